//! Consumer groups on the Kafka listener: kafka-python and kcat consuming in a group, the
//! committed offset surviving a restart of the real `broker` binary, and hand-made group
//! requests (encoded with the `kafka-protocol` crate) that must get Kafka's error codes while
//! the connection stays usable; the limits of src/broker/groups.rs, from outside.
//!
//! kafka-python and kcat must be installed (`scripts/test.sh` installs both); when one is
//! missing the test fails and says so. Every client run has a deadline.

mod common;

use bytes::Bytes;
use common::broker_process::{kafka_addr_of, start_with_kafka, BrokerProcess};
use common::kafka_broker::Embedded;
use common::kafka_raw::Raw;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use synclog::broker::groups::{
    GROUPS_DIR, MAX_GROUPS, MAX_GROUP_ID_BYTES, MAX_MEMBERS, MAX_MEMBER_METADATA_BYTES,
    MAX_MEMBER_STATE_BYTES, MAX_OFFSET_METADATA_BYTES, MEMBER_OVERHEAD_BYTES, SWEEP_INTERVAL,
};
use synclog::kafka::code;

/// How long any one client run may take.
const CLIENT_DEADLINE: Duration = Duration::from_secs(120);

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program args`, fails past the deadline or on a failed exit.
fn run(program: &str, args: &[&str]) -> Output {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} ({e}): run scripts/test.sh, which installs it"));
    let mut guard = KillOnDrop(child);
    let mut stdout = guard.0.stdout.take().expect("stdout");
    let mut stderr = guard.0.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + CLIENT_DEADLINE;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "{program} {args:?} did not finish within {CLIENT_DEADLINE:?}");
        thread::sleep(Duration::from_millis(20));
    };
    let output = Output { status, stdout: out.join().expect("stdout"), stderr: err.join().expect("stderr") };
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

// --- kafka-python, kcat and a restart -------------------------------------------------------

/// Produces `count` messages to `topic` (on the producer's defaults, idempotence on), then a
/// consumer of `group` (defaults but for reading from the earliest offset when nothing is
/// committed) reads until it has seen every message produced so far, commits and closes.
/// Prints the first offset it read and how many messages.
const PRODUCE_THEN_CONSUME: &str = r#"
import sys
from kafka import KafkaProducer, KafkaConsumer
broker, topic, group, count, first_value = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
p = KafkaProducer(bootstrap_servers=broker)
futures = [p.send(topic, str(first_value + i).encode()) for i in range(count)]
p.flush(timeout=60)
for f in futures:
    f.get(timeout=60)
p.close()
c = KafkaConsumer(topic, bootstrap_servers=broker, group_id=group, auto_offset_reset="earliest", consumer_timeout_ms=5000)
offsets, values = [], []
for m in c:
    offsets.append(m.offset)
    values.append(int(m.value))
    if len(offsets) == first_value + count:
        break
c.commit()
c.close()
assert values == list(range(values[0], values[0] + len(values))) if values else True, values[:5]
print("read", offsets[0] if offsets else -1, len(offsets))
"#;

/// The `read FIRST COUNT` line of [`PRODUCE_THEN_CONSUME`].
fn produce_then_consume(
    broker: &str,
    topic: &str,
    group: &str,
    count: u32,
    first_value: u32,
) -> (i64, usize) {
    let output = run(
        "python3",
        &["-c", PRODUCE_THEN_CONSUME, broker, topic, group, &count.to_string(), &first_value.to_string()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let line = stdout.lines().find_map(|l| l.strip_prefix("read ")).unwrap_or_else(|| panic!("{stdout}"));
    let mut parts = line.split(' ').map(|p| p.parse::<i64>().expect("a number"));
    (parts.next().expect("first"), parts.next().expect("count") as usize)
}

#[test]
fn kafka_python_consumes_in_a_group_commits_and_resumes_after_a_broker_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let stderr = dir.path().join("broker.stderr");
    let data_arg = data.to_str().expect("utf-8 path");
    let args = ["--kafka-listen", "127.0.0.1:0", "--data-dir", data_arg];
    let broker = BrokerProcess::start(&args, &stderr);
    let kafka = kafka_addr_of(&stderr);
    // 10 000 produced, all read by the group from offset 0, committed.
    assert_eq!(produce_then_consume(&kafka, "orders", "billing", 10_000, 0), (0, 10_000));
    // A new consumer of the group resumes after the committed offset.
    assert_eq!(produce_then_consume(&kafka, "orders", "billing", 10, 10_000), (10_000, 10));
    let groups = dir.path().join("data/@groups").read_dir().expect("the groups dir");
    let snapshots = groups.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "json")).count();
    assert_eq!(snapshots, 1, "one offsets snapshot for the one group");
    assert!(broker.terminate().success());
    std::fs::write(&stderr, b"").expect("clear the stderr file");
    let broker = BrokerProcess::start(&args, &stderr);
    let kafka = kafka_addr_of(&stderr);
    assert_eq!(
        produce_then_consume(&kafka, "orders", "billing", 10, 10_010),
        (10_010, 10),
        "kept across the restart"
    );
    assert!(broker.terminate().success());
}

#[test]
fn kcat_consumes_in_a_group_and_a_second_run_starts_after_the_first() {
    let broker = Embedded::start();
    let kafka = broker.kafka();
    let lines: String = (0..100).map(|i| format!("m{i}\n")).collect();
    let mut producer = Command::new("kcat")
        .args(["-b", &kafka, "-P", "-t", "grouped"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat is installed (scripts/test.sh)");
    producer.stdin.take().expect("stdin").write_all(lines.as_bytes()).expect("feed kcat");
    assert!(producer.wait().expect("kcat").success());
    let consume = || {
        let out = run(
            "kcat",
            &["-b", &kafka, "-G", "kc", "grouped", "-e", "-q", "-X", "auto.offset.reset=earliest"],
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(consume(), lines, "the group's first run reads all 100");
    let mut raw = Raw::connect(&kafka);
    let fetched = raw.offset_fetch("kc", "grouped");
    assert_eq!(fetched, (100, code::NONE), "kcat committed the end");
    assert_eq!(consume(), "", "the second run starts at the committed offset");
    assert_eq!(broker.topics.get("grouped").expect("topic").log.high_watermark(), 100);
}

// --- hand-made requests ----------------------------------------------------------------------

impl Raw {
    fn join(&mut self, group: &str, member: &str, session_ms: i32, protocol_type: &str) -> JoinGroupResponse {
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(session_ms)
            .with_member_id(s(member))
            .with_protocol_type(s(protocol_type))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"meta"))]);
        self.ask(ApiKey::JoinGroup, 5, &request)
    }

    fn sync(&mut self, group: &str, generation: i32, member: &str, assign: &[&str]) -> SyncGroupResponse {
        let assignments = assign
            .iter()
            .map(|m| {
                SyncGroupRequestAssignment::default()
                    .with_member_id(s(m))
                    .with_assignment(Bytes::from_static(b"p0"))
            })
            .collect();
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_assignments(assignments);
        self.ask(ApiKey::SyncGroup, 3, &request)
    }

    fn heartbeat(&mut self, group: &str, generation: i32, member: &str) -> i16 {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation)
            .with_member_id(s(member));
        let answer: HeartbeatResponse = self.ask(ApiKey::Heartbeat, 3, &request);
        answer.error_code
    }

    fn commit(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        topic: &str,
        offset: i64,
        metadata: &str,
    ) -> i16 {
        let partition = OffsetCommitRequestPartition::default()
            .with_partition_index(0)
            .with_committed_offset(offset)
            .with_committed_metadata(Some(s(metadata)));
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![partition])]);
        let answer: OffsetCommitResponse = self.ask(ApiKey::OffsetCommit, 7, &request);
        answer.topics[0].partitions[0].error_code
    }

    /// The committed offset of `topic` partition 0 and the partition's error code.
    fn offset_fetch(&mut self, group: &str, topic: &str) -> (i64, i16) {
        let request = OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(Some(vec![
            OffsetFetchRequestTopic::default().with_name(TopicName(s(topic))).with_partition_indexes(vec![0]),
        ]));
        let answer: OffsetFetchResponse = self.ask(ApiKey::OffsetFetch, 5, &request);
        let p = &answer.topics[0].partitions[0];
        (p.committed_offset, p.error_code)
    }

    /// Still answers: a FindCoordinator names this broker.
    fn still_usable(&mut self) {
        let request = FindCoordinatorRequest::default().with_key(s("any"));
        let answer: FindCoordinatorResponse = self.ask(ApiKey::FindCoordinator, 2, &request);
        assert_eq!((answer.error_code, answer.node_id.0), (code::NONE, 0));
    }
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

#[test]
fn bad_group_requests_get_kafkas_codes_and_the_connection_stays_usable() {
    let broker = Embedded::start();
    broker.topics.get_or_create("t").expect("topic");
    let mut raw = Raw::connect(&broker.kafka());
    assert_eq!(raw.heartbeat("nobody", 1, "m"), code::UNKNOWN_MEMBER_ID, "unknown group");
    raw.still_usable();
    let joined = raw.join("g", "", 10_000, "consumer");
    assert_eq!(joined.error_code, code::NONE);
    assert_eq!(joined.generation_id, 1);
    let me = joined.member_id.to_string();
    assert_eq!(joined.leader.to_string(), me, "the only member leads");
    assert_eq!(joined.members.len(), 1);
    assert_eq!(raw.sync("g", 1, &me, &[&me]).assignment, Bytes::from_static(b"p0"));
    assert_eq!(raw.heartbeat("g", 1, &me), code::NONE);
    assert_eq!(raw.heartbeat("g", 2, &me), code::ILLEGAL_GENERATION);
    assert_eq!(raw.heartbeat("g", 1, "stranger"), code::UNKNOWN_MEMBER_ID);
    assert_eq!(raw.sync("g", 7, &me, &[]).error_code, code::ILLEGAL_GENERATION);
    assert_eq!(raw.join("g", "stranger", 10_000, "consumer").error_code, code::UNKNOWN_MEMBER_ID);
    assert_eq!(raw.join("g", "", 10_000, "connect").error_code, code::INCONSISTENT_GROUP_PROTOCOL);
    assert_eq!(raw.join("g", "", 10, "consumer").error_code, code::INVALID_SESSION_TIMEOUT);
    assert_eq!(raw.join("", "", 10_000, "consumer").error_code, code::INVALID_GROUP_ID);
    let long_group = "g".repeat(MAX_GROUP_ID_BYTES + 1);
    assert_eq!(raw.join(&long_group, "", 10_000, "consumer").error_code, code::INVALID_GROUP_ID);
    assert_eq!(raw.heartbeat("g", 1, &"m".repeat(10_000)), code::UNKNOWN_MEMBER_ID);
    assert_eq!(raw.commit("g", 2, &me, "t", 5, ""), code::ILLEGAL_GENERATION);
    assert_eq!(raw.commit("g", 1, "stranger", "t", 5, ""), code::UNKNOWN_MEMBER_ID);
    assert_eq!(raw.commit("g", 1, &me, "absent", 5, ""), code::UNKNOWN_TOPIC_OR_PARTITION);
    let too_long = "x".repeat(MAX_OFFSET_METADATA_BYTES + 1);
    assert_eq!(raw.commit("g", 1, &me, "t", 5, &too_long), code::OFFSET_METADATA_TOO_LARGE);
    assert_eq!(raw.offset_fetch("g", "t"), (-1, code::NONE), "nothing refused was stored");
    assert_eq!(raw.commit("g", 1, &me, "t", 5, "kept"), code::NONE);
    assert_eq!(raw.offset_fetch("g", "t"), (5, code::NONE));
    raw.still_usable();

    // A second member: the first is told to rejoin, then both are in generation 2.
    let addr = broker.kafka();
    let second = thread::spawn(move || Raw::connect(&addr).join("g", "", 10_000, "consumer"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw.heartbeat("g", 1, &me) != code::REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "the second join never started a rebalance");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(raw.commit("g", 1, &me, "t", 6, ""), code::REBALANCE_IN_PROGRESS);
    let rejoined = raw.join("g", &me, 10_000, "consumer");
    let other = second.join().expect("the second member");
    assert_eq!((rejoined.error_code, other.error_code), (code::NONE, code::NONE));
    assert_eq!((rejoined.generation_id, other.generation_id), (2, 2));
    assert_eq!(rejoined.leader.to_string(), me, "the previous leader stays leader");
    assert_eq!(rejoined.members.len(), 2, "the leader sees both members");
    assert!(other.members.is_empty(), "a follower sees none");
    raw.still_usable();
}

#[test]
fn a_member_that_stops_heartbeating_is_removed_after_its_session_timeout() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let silent = raw.join("s", "", 500, "consumer");
    assert_eq!(silent.generation_id, 1);
    let silent_id = silent.member_id.to_string();
    assert_eq!(raw.sync("s", 1, &silent_id, &[&silent_id]).error_code, code::NONE);
    // Past its 500 ms session, the next member to join does not wait for it.
    thread::sleep(Duration::from_millis(800));
    let mut other = Raw::connect(&broker.kafka());
    let started = Instant::now();
    let alone = other.join("s", "", 10_000, "consumer");
    assert_eq!((alone.error_code, alone.generation_id), (code::NONE, 2));
    assert_eq!(alone.members.len(), 1, "the silent member was removed");
    assert!(started.elapsed() < Duration::from_secs(10), "not held for the rebalance timeout");
    assert_eq!(raw.heartbeat("s", 1, &silent_id), code::UNKNOWN_MEMBER_ID);
}

#[test]
fn the_group_limits_are_enforced_before_anything_is_kept() {
    let broker = Embedded::start();
    let addr = broker.kafka();
    let mut raw = Raw::connect(&addr);
    // Members: one leader, then joiners up to the cap wait in one rebalance.
    let leader = raw.join("big", "", 60_000, "consumer");
    let leader_id = leader.member_id.to_string();
    let joiners: Vec<_> = (1..MAX_MEMBERS)
        .map(|_| {
            let addr = addr.clone();
            thread::spawn(move || Raw::connect(&addr).join("big", "", 60_000, "consumer"))
        })
        .collect();
    // A probe with another protocol type is refused as inconsistent until the group is full,
    // then as full: the member cap is checked first, and the probe never joins.
    let mut probe = Raw::connect(&addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while probe.join("big", "", 60_000, "probe").error_code != code::GROUP_MAX_SIZE_REACHED {
        assert!(Instant::now() < deadline, "the group never filled up");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(probe.join("big", "", 60_000, "consumer").error_code, code::GROUP_MAX_SIZE_REACHED);
    let rejoined = raw.join("big", &leader_id, 60_000, "consumer");
    assert_eq!(rejoined.members.len(), MAX_MEMBERS);
    for j in joiners {
        assert_eq!(j.join().expect("joiner").generation_id, rejoined.generation_id);
    }
    // Groups: up to the cap (counting "big"), then POLICY_VIOLATION.
    for i in 1..MAX_GROUPS {
        assert_eq!(raw.join(&format!("g{i}"), "", 60_000, "consumer").error_code, code::NONE, "group {i}");
    }
    assert_eq!(raw.join("one-too-many", "", 60_000, "consumer").error_code, code::POLICY_VIOLATION);
    raw.still_usable();
}

/// A JoinGroup refused (here for naming a member the group does not have) keeps no group: a
/// flood of them to fresh group ids must not fill the cap on groups. The slot a refused join
/// would have kept is the last one, and the next real join comes within the least time between
/// two sweeps of the one before it, so no sweep can forget the empty group in between.
#[test]
fn a_refused_join_keeps_no_group_and_takes_no_slot_from_the_cap() {
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let mut members = Vec::new();
    for i in 0..MAX_GROUPS {
        let joined = raw.join(&format!("g{i}"), "", 60_000, "consumer");
        assert_eq!(joined.error_code, code::NONE, "group {i}");
        members.push(joined.member_id.to_string());
    }
    for (round, member) in members.iter().enumerate().take(5) {
        // A join past the cap runs a sweep (nothing to forget: every group has a member).
        let started = Instant::now();
        assert_eq!(
            raw.join(&format!("over{round}"), "", 60_000, "consumer").error_code,
            code::POLICY_VIOLATION
        );
        let freed = format!("g{round}");
        assert_eq!(leave(&mut raw, &freed, member), code::NONE, "{freed}");
        let phantom = raw.join(&format!("phantom{round}"), "nobody", 60_000, "consumer");
        assert_eq!(phantom.error_code, code::UNKNOWN_MEMBER_ID);
        let real = raw.join(&format!("real{round}"), "", 60_000, "consumer").error_code;
        if started.elapsed() < SWEEP_INTERVAL {
            assert_eq!(real, code::NONE, "a refused join kept its group and took the last slot");
            return;
        }
        // Slower than the sweep interval: a sweep may have forgotten the empty group, so the
        // round proves nothing; the slot is taken either way, and the next round frees another.
        assert_eq!(real, code::NONE, "round {round}");
    }
    panic!("no round of three requests came inside {SWEEP_INTERVAL:?}: nothing to judge");
}

/// Waits until a thread of this process is blocked opening a FIFO (its `wchan`).
fn wait_for_a_thread_opening_a_fifo() {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = fs::read_dir("/proc/self/task").expect("/proc/self/task");
        let opening = tasks.flatten().any(|t| {
            fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.trim() == "wait_for_partner")
        });
        if opening {
            return;
        }
        assert!(Instant::now() < deadline, "the commit never opened its temporary file");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_commit_writing_its_file_holds_up_no_other_group_and_a_failed_write_keeps_nothing() {
    let broker = Embedded::start();
    broker.topics.get_or_create("t").expect("topic");
    let addr = broker.kafka();
    let mut raw = Raw::connect(&addr);
    let me = raw.join("other", "", 60_000, "consumer").member_id.to_string();
    assert_eq!(raw.sync("other", 1, &me, &[&me]).error_code, code::NONE);
    // Group "slow"'s temporary offsets file is a FIFO: its commit waits in the open for a reader.
    let dir = broker.data_dir().join(GROUPS_DIR);
    fs::create_dir_all(&dir).expect("groups dir");
    let fifo = dir.join(format!("{}.tmp", hex(b"slow")));
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    let a = addr.clone();
    let committer = thread::spawn(move || Raw::connect(&a).commit("slow", -1, "", "t", 5, ""));
    wait_for_a_thread_opening_a_fifo();
    // Meanwhile another group's member heartbeats, a new group forms, and "slow" shows nothing.
    let (tx, rx) = mpsc::channel();
    let a = addr.clone();
    thread::spawn(move || {
        let mut other = Raw::connect(&a);
        let heartbeat = other.heartbeat("other", 1, &me);
        let joined = other.join("new", "", 60_000, "consumer").error_code;
        let _ = tx.send((heartbeat, joined, other.offset_fetch("slow", "t")));
    });
    let served = rx.recv_timeout(Duration::from_secs(30));
    // Whatever happened, let the commit go on: what it writes arrives here; its fsync of a
    // FIFO then fails.
    let mut written = String::new();
    fs::File::open(&fifo).expect("open the FIFO").read_to_string(&mut written).expect("read");
    let served = served.expect("another group was held up by a commit writing its file");
    assert_eq!(served, (code::NONE, code::NONE, (-1, code::NONE)));
    assert!(written.contains("\"slow\""), "the commit wrote its group's file: {written}");
    assert_eq!(committer.join().expect("committer"), code::KAFKA_STORAGE_ERROR);
    assert_eq!(raw.offset_fetch("slow", "t"), (-1, code::NONE), "a failed write keeps nothing");
    fs::remove_file(&fifo).expect("remove the FIFO");
    assert_eq!(raw.commit("slow", -1, "", "t", 5, ""), code::NONE);
    assert_eq!(raw.offset_fetch("slow", "t"), (5, code::NONE));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn members_waiting_in_join_or_sync_do_not_hold_up_the_brokers_shutdown() {
    let mut broker = Embedded::start();
    let addr = broker.kafka();
    // Group "s": two members in generation 2; the follower's SyncGroup waits for the leader's.
    let mut leader = Raw::connect(&addr);
    let leader_id = leader.join("s", "", 300_000, "consumer").member_id.to_string();
    let a = addr.clone();
    let second = thread::spawn(move || Raw::connect(&a).join("s", "", 300_000, "consumer"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while leader.heartbeat("s", 1, &leader_id) != code::REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "the second join never started a rebalance");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(leader.join("s", &leader_id, 300_000, "consumer").generation_id, 2);
    let follower = second.join().expect("second member");
    let follower_id = follower.member_id.to_string();
    let a = addr.clone();
    let syncing = thread::spawn(move || {
        let mut raw = Raw::connect(&a);
        let sent = Instant::now();
        let _ =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| raw.sync("s", 2, &follower_id, &[])));
        sent.elapsed()
    });
    // Group "j": a member joined and synced; a second member's JoinGroup waits for it to rejoin.
    let mut first = Raw::connect(&addr);
    let first_id = first.join("j", "", 300_000, "consumer").member_id.to_string();
    assert_eq!(first.sync("j", 1, &first_id, &[&first_id]).error_code, code::NONE);
    let a = addr.clone();
    let joining = thread::spawn(move || {
        let sent = Instant::now();
        let _ = std::panic::catch_unwind(|| Raw::connect(&a).join("j", "", 300_000, "consumer"));
        sent.elapsed()
    });
    while first.heartbeat("j", 1, &first_id) != code::REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "the waiting join never started a rebalance");
        thread::sleep(Duration::from_millis(10));
    }
    // The follower's SyncGroup has had time to arrive (and waits for a leader that never syncs).
    thread::sleep(Duration::from_millis(500));
    assert!(!syncing.is_finished(), "the follower's SyncGroup was answered without the leader's");
    let handle = broker.handle.take().expect("running");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        handle.shutdown();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("shutdown waited for the members' 300 s timeouts");
    for waiter in [syncing, joining] {
        assert!(waiter.join().expect("waiter") < Duration::from_secs(60), "a waiting member was let go");
    }
}

/// A JoinGroup with one protocol, "range", carrying `metadata`.
fn join_with(raw: &mut Raw, group: &str, metadata: Bytes) -> JoinGroupResponse {
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(60_000)
        .with_rebalance_timeout_ms(60_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(metadata)]);
    raw.ask(ApiKey::JoinGroup, 5, &request)
}

/// A SyncGroup of `member` in generation 1, giving `assignment` to `member`, `times` times over.
fn sync_with(raw: &mut Raw, group: &str, member: &str, assignment: Bytes, times: usize) -> i16 {
    let one = SyncGroupRequestAssignment::default().with_member_id(s(member)).with_assignment(assignment);
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(1)
        .with_member_id(s(member))
        .with_assignments(vec![one; times]);
    let answer: SyncGroupResponse = raw.ask(ApiKey::SyncGroup, 3, &request);
    answer.error_code
}

fn leave(raw: &mut Raw, group: &str, member: &str) -> i16 {
    let request = LeaveGroupRequest::default().with_group_id(GroupId(s(group))).with_member_id(s(member));
    let answer: LeaveGroupResponse = raw.ask(ApiKey::LeaveGroup, 0, &request);
    answer.error_code
}

#[test]
fn groups_abandoned_past_their_session_give_their_slots_back() {
    // Sessions long enough that the joins below (a thousand round trips, a debug build on a
    // busy machine) end well inside them: the first group is still held at the last join.
    const SESSION_MS: i32 = 3_000;
    let session = Duration::from_millis(SESSION_MS as u64);
    let broker = Embedded::start();
    let mut raw = Raw::connect(&broker.kafka());
    let started = std::time::Instant::now();
    for i in 0..MAX_GROUPS {
        let joined = raw.join(&format!("short{i}"), "", SESSION_MS, "consumer");
        assert_eq!(joined.error_code, code::NONE, "group {i}");
    }
    let one_more = raw.join("one-more", "", SESSION_MS, "consumer").error_code;
    let joined_in = started.elapsed();
    assert!(
        joined_in < session,
        "the joins took {joined_in:?}, past the first member's session: nothing to judge"
    );
    assert_eq!(one_more, code::POLICY_VIOLATION);
    // Past every member's session nobody holds those groups; the next join sweeps them.
    thread::sleep(session + Duration::from_millis(300));
    assert_eq!(raw.join("one-more", "", 10_000, "consumer").error_code, code::NONE);
    assert_eq!(raw.heartbeat("short0", 1, "anyone"), code::UNKNOWN_MEMBER_ID, "short0 was forgotten");
}

#[test]
fn member_state_is_bounded_and_keeps_nothing_else_of_the_requests_that_carried_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = start_with_kafka(dir.path());
    let mut raw = Raw::connect(&kafka);
    let baseline = broker.peak_kib();
    // 1. A SyncGroup naming its one member 255 times with 64 KiB each (a 16 MiB request):
    //    the member keeps one 64 KiB assignment, not the request.
    let big = Bytes::from(vec![7u8; MAX_MEMBER_METADATA_BYTES]);
    for i in 0..20 {
        let group = format!("dup{i}");
        let me = join_with(&mut raw, &group, Bytes::from_static(b"m")).member_id.to_string();
        assert_eq!(sync_with(&mut raw, &group, &me, big.clone(), 255), code::NONE, "group {i}");
    }
    let after_duplicates = broker.peak_kib();
    eprintln!("member state: VmHWM {baseline} KiB, {after_duplicates} KiB after 20 syncs of 16 MiB");
    // Holding the 20 requests would take 320 MiB; reading and decoding one takes about 3 × 16.
    assert!(after_duplicates - baseline < 100 * 1024, "{baseline} → {after_duplicates} KiB");

    // 2. Members of 64 KiB of metadata and 64 KiB of assignment, one per group, until the bound
    //    refuses one: near MAX_MEMBER_STATE_BYTES over what each counts for.
    let metadata_bytes = MAX_MEMBER_METADATA_BYTES - "consumer".len() - "range".len();
    let metadata = Bytes::from(vec![1u8; metadata_bytes]);
    let mut members = Vec::new();
    let refused = (0..2000usize)
        .find(|i| {
            let group = format!("big{i}");
            let joined = join_with(&mut raw, &group, metadata.clone());
            if joined.error_code != code::NONE {
                assert_eq!(joined.error_code, code::POLICY_VIOLATION, "group {i}");
                return true;
            }
            let me = joined.member_id.to_string();
            let synced = sync_with(&mut raw, &group, &me, big.clone(), 1);
            members.push((group, me));
            assert!(synced == code::NONE || synced == code::POLICY_VIOLATION, "group {i}: {synced}");
            synced == code::POLICY_VIOLATION
        })
        .expect("the member state bound refused a member");
    // Each member counts for its id (about 51 bytes), "consumer", "range", its metadata, its
    // assignment and the overhead; the 20 members of part 1 count for the same less metadata.
    let member = 51 + MAX_MEMBER_METADATA_BYTES + MAX_MEMBER_METADATA_BYTES + MEMBER_OVERHEAD_BYTES;
    let expected = (MAX_MEMBER_STATE_BYTES - 20 * (member - metadata_bytes)) / member;
    assert!(refused.abs_diff(expected) <= 2, "refused at member {refused}, expected about {expected}");
    let peak = broker.peak_kib();
    eprintln!("member state: VmHWM {peak} KiB with {refused} members of 128 KiB");
    let bound_kib = (MAX_MEMBER_STATE_BYTES / 1024 + 100 * 1024) as u64;
    assert!(peak - baseline < bound_kib, "{baseline} → {peak} KiB");
    // A member that leaves gives its room back.
    let (group, me) = members.remove(0);
    assert_eq!(leave(&mut raw, &group, &me), code::NONE);
    let again = join_with(&mut raw, &format!("big{refused}-again"), metadata.clone());
    assert_eq!(again.error_code, code::NONE);
    raw.still_usable();
}

// --- members waiting in join and sync hold no request; member ids are not guessable ---------

/// One request frame for `body` (header v1, correlation id 7: see `request_frame`).
fn frame_of<Q: kafka_protocol::protocol::Encodable>(api: ApiKey, version: i16, body: &Q) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).expect("encode");
    common::kafka_raw::request_frame(api as i16, version, &encoded)
}

/// The body (after the correlation id) of the next answer on `stream`, decoded.
fn answer_on<A: kafka_protocol::protocol::Decodable>(stream: &mut TcpStream, version: i16) -> A {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).expect("an answer, not a closed connection");
    let mut answer = vec![0u8; i32::from_be_bytes(length) as usize];
    stream.read_exact(&mut answer).expect("the answer");
    A::decode(&mut Bytes::from(answer[4..].to_vec()), version).expect("decode the answer")
}

/// The send and receive queues (bytes) of the IPv4 socket from `local` to `remote`, from
/// /proc/net/tcp; `None` when there is no such socket.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let table = fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if port(fields[1])? != local.port() || port(fields[2])? != remote.port() {
            return None;
        }
        let (tx, rx) = fields[4].split_once(':')?;
        Some((u64::from_str_radix(tx, 16).ok()?, u64::from_str_radix(rx, 16).ok()?))
    })
}

/// Sends `frame` on `stream` and waits until the broker has read all of it: nothing left in
/// our socket's send queue nor in the broker's socket's receive queue (both on 127.0.0.1).
fn send_and_see_it_read(stream: &mut TcpStream, frame: &[u8]) {
    stream.write_all(frame).expect("send");
    let (ours, theirs) = (stream.local_addr().expect("local"), stream.peer_addr().expect("peer"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = tcp_queues(ours, theirs).expect("our socket").0 == 0;
        if sent && tcp_queues(theirs, ours).expect("the broker's socket").1 == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the broker did not read a request within 30 s");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A JoinGroup v5 of a new member of `group` (session and rebalance timeouts of 300 s).
fn new_member_join(group: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(300_000)
        .with_rebalance_timeout_ms(300_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"meta"))])
}

/// The audit's case: followers whose SyncGroup, carrying large assignments (ignored: only the
/// leader's count), waits for a leader that has not synced yet. Each request is 36 MiB, so every
/// buffer that holds one is above glibc's largest mmap threshold (32 MiB) and its pages go back
/// to the system when it is freed: VmHWM then counts what is held at once, not what the
/// allocator keeps for later.
#[test]
fn followers_waiting_in_sync_do_not_hold_the_assignments_they_sent() {
    const FOLLOWERS: usize = 6;
    const CHUNK: usize = 12 * 1024 * 1024;
    const CHUNKS: usize = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = dir.path().join("broker.stderr");
    let data = dir.path().join("data");
    let frame_limit = (CHUNK * CHUNKS + 1024 * 1024).to_string();
    let args = [
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--kafka-listen",
        "127.0.0.1:0",
        "--max-frame-bytes",
        &frame_limit,
    ];
    let broker = BrokerProcess::start(&args, &stderr);
    let addr = kafka_addr_of(&stderr);
    let mut leader = Raw::connect(&addr);
    let leader_id = leader.join("w", "", 300_000, "consumer").member_id.to_string();
    // The followers' JoinGroups wait for the leader to rejoin; each is read before the next.
    let mut followers: Vec<TcpStream> = (0..FOLLOWERS)
        .map(|_| {
            let mut stream = TcpStream::connect(&addr).expect("connect");
            stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
            send_and_see_it_read(&mut stream, &frame_of(ApiKey::JoinGroup, 5, &new_member_join("w")));
            stream
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while leader.heartbeat("w", 1, &leader_id) != code::REBALANCE_IN_PROGRESS {
        assert!(Instant::now() < deadline, "the followers' joins never started a rebalance");
        thread::sleep(Duration::from_millis(10));
    }
    let rejoined = leader.join("w", &leader_id, 300_000, "consumer");
    assert_eq!((rejoined.error_code, rejoined.generation_id), (code::NONE, 2));
    assert_eq!(rejoined.members.len(), FOLLOWERS + 1, "every follower joined generation 2");
    let ids: Vec<String> = followers
        .iter_mut()
        .map(|stream| {
            let joined: JoinGroupResponse = answer_on(stream, 5);
            assert_eq!((joined.error_code, joined.generation_id), (code::NONE, 2));
            joined.member_id.to_string()
        })
        .collect();

    let baseline = broker.peak_kib();
    let chunk = Bytes::from(vec![9u8; CHUNK]);
    for (stream, id) in followers.iter_mut().zip(&ids) {
        let assignments = (0..CHUNKS)
            .map(|_| {
                SyncGroupRequestAssignment::default().with_member_id(s(id)).with_assignment(chunk.clone())
            })
            .collect();
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(s("w")))
            .with_generation_id(2)
            .with_member_id(s(id))
            .with_assignments(assignments);
        send_and_see_it_read(stream, &frame_of(ApiKey::SyncGroup, 0, &request));
    }
    // Every follower's SyncGroup has been read and waits for the leader's.
    thread::sleep(Duration::from_millis(200));
    let waiting = broker.peak_kib();
    let mut everyone: Vec<&str> = ids.iter().map(String::as_str).collect();
    everyone.push(&leader_id);
    // The leader gives each member its own id as its assignment.
    let assignments = everyone
        .iter()
        .map(|m| {
            SyncGroupRequestAssignment::default()
                .with_member_id(s(m))
                .with_assignment(Bytes::from(m.to_string()))
        })
        .collect();
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s("w")))
        .with_generation_id(2)
        .with_member_id(s(&leader_id))
        .with_assignments(assignments);
    let led: SyncGroupResponse = leader.ask(ApiKey::SyncGroup, 0, &request);
    assert_eq!((led.error_code, led.assignment), (code::NONE, Bytes::from(leader_id.clone())));
    for (stream, id) in followers.iter_mut().zip(&ids) {
        let synced: SyncGroupResponse = answer_on(stream, 0);
        assert_eq!((synced.error_code, synced.assignment), (code::NONE, Bytes::from(id.clone())), "{id}");
        assert_eq!(leader.heartbeat("w", 2, id), code::NONE, "{id} is a member of generation 2");
    }
    let request_kib = (CHUNK * CHUNKS / 1024) as u64;
    eprintln!(
        "waiting syncs: VmHWM {baseline} KiB before, {waiting} KiB with {FOLLOWERS} followers' \
         SyncGroups of {request_kib} KiB waiting"
    );
    // Holding the requests would take FOLLOWERS × 36 MiB; reading and decoding one at a time
    // takes about 2 × 36 MiB (the read buffer and the decoded copy) at once.
    let bound = request_kib * FOLLOWERS as u64 / 2;
    assert!(waiting - baseline < bound, "{baseline} → {waiting} KiB (bound {bound} KiB over)");
}

#[test]
fn member_ids_cannot_be_guessed_so_nobody_leaves_or_commits_as_another_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, addr) = start_with_kafka(dir.path());
    let mut victim = Raw::connect(&addr);
    let joined = victim.join("v", "", 60_000, "consumer");
    let (victim_id, other_id) =
        (joined.member_id.to_string(), victim.join("other", "", 60_000, "consumer").member_id.to_string());
    assert_eq!(victim.sync("v", 1, &victim_id, &[&victim_id]).error_code, code::NONE);
    // Another client names the old scheme's first 1000 ids: nobody is evicted.
    let mut attacker = Raw::connect(&addr);
    let guesses: Vec<_> = (0..1000)
        .map(|n| {
            leave_group_request::MemberIdentity::default().with_member_id(s(&format!("synclog-member-{n}")))
        })
        .collect();
    let request = LeaveGroupRequest::default().with_group_id(GroupId(s("v"))).with_members(guesses);
    let answer: LeaveGroupResponse = attacker.ask(ApiKey::LeaveGroup, 3, &request);
    assert_eq!(answer.members.len(), 1000);
    assert!(answer.members.iter().all(|m| m.error_code == code::UNKNOWN_MEMBER_ID), "someone was evicted");
    assert_eq!(victim.heartbeat("v", 1, &victim_id), code::NONE, "the victim is still a stable member");
    assert_eq!(attacker.heartbeat("v", 1, "synclog-member-0"), code::UNKNOWN_MEMBER_ID);
    assert_eq!(attacker.commit("v", 1, "synclog-member-0", "t", 5, ""), code::UNKNOWN_MEMBER_ID);

    // `synclog-member-<n>-<32 hex digits>`, the hex differing between members.
    let random_part = |id: &str| {
        let (prefix, hex) = id.rsplit_once('-').unwrap_or_else(|| panic!("{id}"));
        assert!(prefix.starts_with("synclog-member-"), "{id}");
        assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        hex.to_string()
    };
    assert_ne!(random_part(&victim_id), random_part(&other_id), "{victim_id} and {other_id}");
}

/// Commits `offset` for partition 0 of every topic in one request: the answer's codes.
fn commit_all(raw: &mut Raw, group: &str, topics: &[String], offset: i64, metadata: &str) -> Vec<i16> {
    let topics = topics
        .iter()
        .map(|t| {
            let partition = OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(s(metadata)));
            OffsetCommitRequestTopic::default().with_name(TopicName(s(t))).with_partitions(vec![partition])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(topics);
    let answer: OffsetCommitResponse = raw.ask(ApiKey::OffsetCommit, 7, &request);
    answer.topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect()
}

/// A broker process with a Kafka listener on a data dir in `dir`, and its Kafka address.
fn broker_with_kafka(dir: &std::path::Path, extra: &[&str]) -> (BrokerProcess, String) {
    let stderr = dir.join("broker.stderr");
    let _ = fs::write(&stderr, b"");
    let data = dir.join("data");
    let mut args = vec!["--kafka-listen", "127.0.0.1:0", "--data-dir", data.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let broker = BrokerProcess::start(&args, &stderr);
    let kafka = kafka_addr_of(&stderr);
    (broker, kafka)
}

#[test]
fn a_commit_writes_about_what_it_changes_not_its_groups_whole_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = broker_with_kafka(dir.path(), &[]);
    let topics: Vec<String> = (0..240).map(|i| format!("t{i}")).collect();
    let mut client = synclog::client::Client::connect(broker.addr).expect("connect");
    for t in &topics {
        client.produce(t, [&b"x"[..]]).expect("create the topic");
    }
    // One group holding about 1 MB of offsets (240 × 4000 bytes of metadata)...
    let mut raw = Raw::connect(&kafka);
    let metadata = "m".repeat(4000);
    assert!(commit_all(&mut raw, "big", &topics, 1, &metadata).iter().all(|&c| c == code::NONE));
    let group_bytes = (topics.len() * metadata.len()) as u64;
    // ...then 200 commits, each of one offset with no metadata.
    let before = broker.bytes_written();
    for offset in 2..202 {
        assert_eq!(raw.commit("big", -1, "", "t0", offset, ""), code::NONE);
    }
    let written = broker.bytes_written() - before;
    // Rewriting the group's file on every commit wrote 200 × 1 MB.
    assert!(
        written < group_bytes / 10,
        "200 one-offset commits wrote {written} bytes, a group of {group_bytes} bytes of offsets"
    );
    assert!(broker.terminate().success());
    let (_broker, kafka) = broker_with_kafka(dir.path(), &[]);
    let mut raw = Raw::connect(&kafka);
    assert_eq!(raw.offset_fetch("big", "t0"), (201, code::NONE), "the last commit, after a restart");
    assert_eq!(raw.offset_fetch("big", "t239"), (1, code::NONE), "the first commit's, after a restart");
}

#[test]
fn groups_without_members_past_the_offsets_retention_give_their_slots_and_files_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = broker_with_kafka(dir.path(), &[]);
    let mut client = synclog::client::Client::connect(broker.addr).expect("connect");
    client.produce("t", [&b"x"[..]]).expect("create the topic");
    let mut raw = Raw::connect(&kafka);
    for i in 0..MAX_GROUPS {
        assert_eq!(raw.commit(&format!("g{i}"), -1, "", "t", 1, ""), code::NONE, "group {i}");
    }
    assert_eq!(raw.commit("late", -1, "", "t", 1, ""), code::POLICY_VIOLATION, "every slot held");
    assert!(broker.terminate().success());
    // Restarted with a retention of 4 s: every group's starts again at the start.
    let retention = Duration::from_secs(4);
    let ms = retention.as_millis().to_string();
    let (_broker, kafka) = broker_with_kafka(dir.path(), &["--offsets-retention-ms", &ms]);
    let started = Instant::now();
    let mut raw = Raw::connect(&kafka);
    assert_eq!(raw.commit("late", -1, "", "t", 1, ""), code::POLICY_VIOLATION, "within their retention");
    thread::sleep((retention + Duration::from_millis(200)).saturating_sub(started.elapsed()));
    // g0 commits again (unchanged): its retention starts again; the others' has run out.
    assert_eq!(raw.commit("g0", -1, "", "t", 1, ""), code::NONE);
    assert_eq!(
        raw.commit("late", -1, "", "t", 5, ""),
        code::NONE,
        "the expired groups gave their slots back"
    );
    assert_eq!(raw.offset_fetch("g1", "t"), (-1, code::NONE), "an expired group's offsets are gone");
    assert_eq!(
        raw.offset_fetch("g0", "t"),
        (1, code::NONE),
        "a group within its retention keeps its offsets"
    );
    let groups_dir = dir.path().join("data").join(GROUPS_DIR);
    let files: Vec<_> = groups_dir.read_dir().expect("groups dir").flatten().map(|e| e.file_name()).collect();
    assert_eq!(files.len(), 2, "only g0's and late's snapshots remain: {files:?}");
}

#[test]
fn a_join_or_a_leave_wakes_only_its_own_groups_waiters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, kafka) = broker_with_kafka(dir.path(), &[]);
    // "crowd" is stable under its leader; 90 newcomers then wait in JoinGroup for the leader
    // to rejoin (up to their 60 s rebalance timeout).
    let mut leader = Raw::connect(&kafka);
    let me = leader.join("crowd", "", 60_000, "consumer").member_id.to_string();
    assert_eq!(leader.sync("crowd", 1, &me, &[&me]).error_code, code::NONE);
    const WAITERS: u64 = 90;
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let kafka = kafka.clone();
            thread::spawn(move || Raw::connect(&kafka).join("crowd", "", 60_000, "consumer").error_code)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while leader.heartbeat("crowd", 1, &me) != code::REBALANCE_IN_PROGRESS || {
        let threads = fs::read_dir(format!("/proc/{}/task", broker.pid())).expect("tasks").count() as u64;
        threads < WAITERS
    } {
        assert!(Instant::now() < deadline, "the newcomers never all waited");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    // Another group forms and empties, 200 times over: each join and leave notifies its group.
    const CYCLES: u64 = 200;
    let mut churn = Raw::connect(&kafka);
    let (before, started) = (broker.context_switches(), Instant::now());
    for _ in 0..CYCLES {
        let joined = churn.join("churn", "", 60_000, "consumer");
        assert_eq!(joined.error_code, code::NONE);
        assert_eq!(leave(&mut churn, "churn", &joined.member_id), code::NONE);
    }
    let switches = broker.context_switches() - before;
    // What the churn's own requests cost (2 per cycle, measured), plus every waiter looking
    // again each 100 ms slice. Waking every group's waiters on each notification measured
    // 6 641 on a 2-core machine (this test's own figure there: 400).
    let slices = started.elapsed().as_millis() as u64 / 100 + 2;
    let bound = 5 * CYCLES + 3 * WAITERS * slices;
    assert!(switches < bound, "{switches} context switches during the churn (bound {bound})");
    // The leader rejoins: the crowd's rebalance completes.
    assert_eq!(leader.join("crowd", &me, 60_000, "consumer").error_code, code::NONE);
    for w in waiters {
        assert_eq!(w.join().expect("waiter"), code::NONE);
    }
}
