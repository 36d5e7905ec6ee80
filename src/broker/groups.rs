//! Kafka consumer groups on a broker whose topics each have one partition: membership,
//! generations, the leader's assignment, session timeouts and committed offsets.
//!
//! # The protocol, as served here
//!
//! A consumer finds the coordinator (this broker), then **joins**: JoinGroup waits until every
//! known member has (re)joined or the rebalance timeout passes (at most [`MAX_JOIN_WAIT`]);
//! members that did not rejoin are dropped, the generation goes up by one, a leader is chosen
//! (the previous leader when it rejoined, else the first member by id) and so is the first of
//! the leader's protocols that every member names. Every waiting JoinGroup is then answered;
//! the leader's answer lists the members and their metadata. Then **sync**: the leader's
//! SyncGroup carries the assignment of every member (the client computes it: with one
//! partition per topic, one member gets partition 0 of each subscribed topic); it is stored
//! as given and every member's SyncGroup is answered with its own share. A follower's
//! SyncGroup that arrives first waits for the leader's (at most its session timeout, bounded
//! by [`MAX_JOIN_WAIT`]).
//!
//! A new member's id is `synclog-member-<n>-<32 hex digits>`, the hex 128 bits from the OS's
//! random source (Kafka's embed a UUID): every group request names its member by id, so an id
//! a client could guess would let it heartbeat, commit or leave as another client's member.
//!
//! Heartbeats keep a member alive. A member whose last request is older than its session
//! timeout is removed the next time its group is touched (every request to the group checks),
//! and the group rebalances: the others' heartbeats are answered REBALANCE_IN_PROGRESS and
//! they rejoin. LeaveGroup removes a member at once.
//!
//! Committed offsets are stored per group under the data dir's `@groups/` (docs/format.md): a
//! JSON snapshot and a journal of the commits since, one line each, appended and synced before
//! OffsetCommit is answered, compacted into a new snapshot now and then, and read back when the
//! broker starts ([`offsets_file`]). The snapshot holds the group id, and that is what start-up
//! goes by; the files' name only has to be unique and
//! safe: the id's bytes in hex for an id of up to [`HEX_NAMED_BYTES`] bytes, else the hex of
//! its first [`HEX_NAMED_BYTES`] bytes, `-` and a 64-bit hash (FNV-1a) of the whole id, so
//! every name stays under 255 bytes for every id up to [`MAX_GROUP_ID_BYTES`]. A name another
//! group's file already has gets `-2`, `-3`, … appended; a group keeps the name it was read
//! or first written under. A commit writes holding a lock of its own (one commit's write at a
//! time, across all groups), not the groups' lock: joins, syncs, heartbeats and offset fetches
//! go on meanwhile, and a fetch sees the offsets before the commit until the commit is written
//! and answered. A commit that cannot be written is answered KAFKA_STORAGE_ERROR (56) and
//! nothing of it is kept in memory (what reached the disk before the failure may be found
//! after a restart: see [`offsets_file`]).
//!
//! A group with no members keeps its offsets for the retention (`--offsets-retention-ms`,
//! [`DEFAULT_OFFSETS_RETENTION`], Kafka's `offsets.retention.minutes`) after its last commit or
//! its last member's leaving, whichever came later, and at the earliest from the broker's start
//! (neither membership nor an unchanged commit is stored); past it, the next sweep forgets the group
//! and deletes its files. A commit or a join sweeps when the last sweep is older than
//! [`RETENTION_SWEEP_INTERVAL`].
//!
//! # Limits (each refused before anything is kept)
//!
//! | what                                   | limit                       | answer                          |
//! |----------------------------------------|-----------------------------|---------------------------------|
//! | groups held (members or offsets)       | [`MAX_GROUPS`]              | POLICY_VIOLATION (44)           |
//! | members of one group                   | [`MAX_MEMBERS`]             | GROUP_MAX_SIZE_REACHED (81)     |
//! | group id length                        | 1..=[`MAX_GROUP_ID_BYTES`]  | INVALID_GROUP_ID (24)           |
//! | member id length                       | [`MAX_MEMBER_ID_BYTES`]     | UNKNOWN_MEMBER_ID (25)          |
//! | protocols of one member, their metadata | [`MAX_PROTOCOLS`]; [`MAX_MEMBER_METADATA_BYTES`] for its protocol type, the protocols' names and metadata in all | INVALID_REQUEST (42) |
//! | one member's assignment                | [`MAX_MEMBER_METADATA_BYTES`] | INVALID_REQUEST (42)          |
//! | what all members of all groups hold    | [`MAX_MEMBER_STATE_BYTES`], each member counted as its id, protocol type, protocols, assignment and [`MEMBER_OVERHEAD_BYTES`] | POLICY_VIOLATION (44) |
//! | committed-offset metadata              | [`MAX_OFFSET_METADATA_BYTES`] | OFFSET_METADATA_TOO_LARGE (12) |
//! | committed offsets of one group, of all groups | [`MAX_COMMITTED_BYTES_PER_GROUP`], [`MAX_COMMITTED_BYTES`], each offset counted as its topic name and its metadata as stored (JSON-escaped) and [`COMMITTED_OFFSET_OVERHEAD_BYTES`] | POLICY_VIOLATION (44) |
//! | session timeout                        | [`MIN_SESSION_TIMEOUT`]..=[`MAX_SESSION_TIMEOUT`] | INVALID_SESSION_TIMEOUT (26) |
//!
//! A member's metadata and assignment are copied out of the request that carried them, so a
//! member keeps what it counts for and never the rest of a large request alive; a JoinGroup or
//! SyncGroup that waits holds only owned copies of its ids (the listener drops the decoded
//! request first) and a follower's SyncGroup drops the assignments it carried (ignored) before
//! it waits for the leader's. Before a bound on groups or member state refuses anything, every
//! group is swept: members past their session timeout are removed and groups left with neither
//! members nor offsets are forgotten, so groups abandoned by their clients give their room
//! back. A sweep walks every member, so it runs at most once per [`SWEEP_INTERVAL`].
//!
//! Offsets are committed only for partition 0 of existing topics, so a group holds at most
//! one committed offset per topic (`--max-topics`). An offset that would take its group or all
//! groups past their byte bound is refused alone (the others of the request are committed);
//! one that replaces an offset with one that counts no more is always taken.
//!
//! Not served: static membership (`group.instance.id` is ignored: every member is dynamic)
//! and the incremental rebalance protocol of KIP-848.

use crate::kafka::code;
use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod commit;
mod membership;
mod offsets_file;
pub use commit::RETENTION_SWEEP_INTERVAL;
pub use membership::committed_bytes;
use membership::{
    admit_member, check_group_id, complete_join, expire, forget_if_idle, joined, member_bytes, member_of,
    recount, room_for, start_rebalance, timeout,
};
pub use offsets_file::JOURNAL_MIN_BYTES;

/// `--offsets-retention-ms` by default: 7 days, Kafka's `offsets.retention.minutes`.
pub const DEFAULT_OFFSETS_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The most groups the broker holds at once.
pub const MAX_GROUPS: usize = 1000;
/// The most members one group holds.
pub const MAX_MEMBERS: usize = 100;
/// The longest group id, in bytes.
pub const MAX_GROUP_ID_BYTES: usize = 255;
/// The longest member id, in bytes (the broker's own are far shorter).
pub const MAX_MEMBER_ID_BYTES: usize = 255;
/// The most protocols (assignors) one member names.
pub const MAX_PROTOCOLS: usize = 16;
/// The most bytes of protocol metadata one member sends, and of assignment it is given.
pub const MAX_MEMBER_METADATA_BYTES: usize = 64 * 1024;
/// The most bytes all members of all groups hold together (see [`MEMBER_OVERHEAD_BYTES`]).
pub const MAX_MEMBER_STATE_BYTES: usize = 64 * 1024 * 1024;
/// What a member counts for against [`MAX_MEMBER_STATE_BYTES`] beyond its id, protocol type,
/// protocols' names and metadata and its assignment (its place in memory).
pub const MEMBER_OVERHEAD_BYTES: usize = 256;
/// The longest metadata string of a committed offset (Kafka's `offset.metadata.max.bytes`).
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;
/// The most bytes of committed offsets one group holds (see [`committed_bytes`]).
pub const MAX_COMMITTED_BYTES_PER_GROUP: usize = 1024 * 1024;
/// The most bytes of committed offsets all groups together hold (see [`committed_bytes`]).
pub const MAX_COMMITTED_BYTES: usize = 32 * 1024 * 1024;
/// What a committed offset counts for beyond its topic name and metadata (its place in memory).
pub const COMMITTED_OFFSET_OVERHEAD_BYTES: usize = 128;
/// Group ids of up to this many bytes name their offsets file by their hex alone.
pub const HEX_NAMED_BYTES: usize = 100;
/// The shortest session timeout a member may ask for.
pub const MIN_SESSION_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest session timeout a member may ask for (Kafka's default maximum).
pub const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest a JoinGroup or SyncGroup waits for the other members, whatever it asks.
pub const MAX_JOIN_WAIT: Duration = Duration::from_secs(300);

/// The directory under the data dir that holds the groups' committed offsets.
pub const GROUPS_DIR: &str = "@groups";

/// The least time between two sweeps of every group (see [`Groups::sweep_if_due`]).
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// How often a waiting JoinGroup or SyncGroup looks again (expiry, shutdown).
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Where a group is in its rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No members.
    Empty,
    /// Members are (re)joining until every one has, or the deadline passes.
    Joining { deadline: Instant },
    /// Joined: waiting for the leader's SyncGroup.
    Syncing,
    /// Assigned.
    Stable,
}

struct Member {
    session: Duration,
    rebalance: Duration,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    /// The last request from this member.
    seen: Instant,
    /// Joined the rebalance in progress and waits for it to complete.
    joining: bool,
    assignment: Bytes,
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub offset: i64,
    pub metadata: Option<String>,
}

struct Group {
    generation: i32,
    phase: Phase,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Committed offsets by topic (partition 0 is the only one).
    offsets: BTreeMap<String, Committed>,
    /// What `offsets` count for ([`committed_bytes`]).
    bytes: usize,
    /// The name of its offsets files, without `.json` or `.journal`, once it has them.
    file: Option<String>,
    /// A commit is writing this group's offsets files (it is not forgotten meanwhile).
    committing: bool,
    /// The sequence number of its last commit ([`offsets_file`]).
    seq: u64,
    /// How long its journal is: past [`offsets_file::JOURNAL_MIN_BYTES`] and what its offsets
    /// count for, the next commit writes a snapshot instead (`u64::MAX` after a failed append).
    journal_bytes: u64,
    /// When it last committed or last lost its last member: its offsets are kept for the
    /// retention after the later of the two (see [`Groups::open`]).
    active: Instant,
    /// What its members count for ([`member_bytes`]), recounted whenever they change.
    member_bytes: usize,
    /// Where its JoinGroups and SyncGroups wait; notified when its membership or phase changes,
    /// so a change in one group wakes no other group's waiters.
    changed: Arc<Condvar>,
}

impl Group {
    fn new() -> Group {
        Group {
            generation: 0,
            phase: Phase::Empty,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            offsets: BTreeMap::new(),
            bytes: 0,
            file: None,
            committing: false,
            seq: 0,
            journal_bytes: 0,
            active: Instant::now(),
            member_bytes: 0,
            changed: Arc::new(Condvar::new()),
        }
    }
}

/// What a JoinGroup is answered with.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation: i32,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// Every member and its metadata for the chosen protocol: for the leader only.
    pub members: Vec<(String, Bytes)>,
}

/// A JoinGroup's fields.
pub struct JoinRequest<'a> {
    pub group_id: &'a str,
    pub member_id: &'a str,
    pub session_ms: i32,
    pub rebalance_ms: i32,
    pub protocol_type: &'a str,
    pub protocols: Vec<(String, Bytes)>,
}

/// Every group of the broker.
pub struct Groups {
    dir: PathBuf,
    groups: Mutex<HashMap<String, Group>>,
    next_member: AtomicU64,
    /// What the committed offsets of every group count for; changed under `groups`' lock.
    committed: AtomicUsize,
    /// Held by a commit from its checks to the end of its write: one offsets file is written at
    /// a time, so the byte bounds and the file names it checked still hold when it applies.
    /// Taken before `groups`, never while holding it.
    writing: Mutex<()>,
    /// When the last sweep ran, ms after `opened` (see [`Groups::sweep_if_due`]).
    last_sweep_ms: AtomicU64,
    opened: Instant,
    /// `--offsets-retention-ms`: how long a group without members keeps its offsets.
    retention: Duration,
}

/// An error code, or the value.
pub type Answer<T> = Result<T, i16>;

impl Groups {
    /// Reads every group's committed offsets from `data_dir/@groups` (created by the first
    /// commit: a broker whose groups never commit leaves no such directory). Each group's
    /// retention starts again now.
    pub fn open(data_dir: &Path, retention: Duration) -> io::Result<Groups> {
        let dir = data_dir.join(GROUPS_DIR);
        let mut groups = HashMap::new();
        let now = Instant::now();
        for stored in offsets_file::read_all(&dir)? {
            if check_group_id(&stored.group).is_err() || groups.contains_key(&stored.group) {
                let file = dir.join(format!("{}.json", stored.stem));
                let message = format!("group id {:?} invalid or held by another file", stored.group);
                return Err(offsets_file::invalid(&file, message));
            }
            let mut group = Group::new();
            group.bytes = stored.offsets.iter().map(|(t, c)| committed_bytes(t, c)).sum();
            group.offsets = stored.offsets;
            group.file = Some(stored.stem);
            (group.seq, group.journal_bytes) = (stored.seq, stored.journal_bytes);
            // Membership and unchanged commits are not stored, so the files' age says nothing
            // of how long a group has been idle: its retention starts again here.
            group.active = now;
            groups.insert(stored.group, group);
        }
        let committed = groups.values().map(|g| g.bytes).sum();
        Ok(Groups {
            dir,
            groups: Mutex::new(groups),
            next_member: AtomicU64::new(0),
            committed: AtomicUsize::new(committed),
            writing: Mutex::new(()),
            last_sweep_ms: AtomicU64::new(0),
            opened: now,
            retention,
        })
    }

    /// JoinGroup: waits for the rebalance to complete (see the module docs).
    pub fn join(&self, request: JoinRequest<'_>, stopping: &AtomicBool) -> Answer<Joined> {
        check_group_id(request.group_id)?;
        let session = timeout(request.session_ms)?;
        let rebalance = Duration::from_millis(request.rebalance_ms.max(0) as u64).max(session);
        if request.member_id.len() > MAX_MEMBER_ID_BYTES {
            return Err(code::UNKNOWN_MEMBER_ID);
        }
        if request.protocol_type.is_empty() || request.protocols.is_empty() {
            return Err(code::INCONSISTENT_GROUP_PROTOCOL);
        }
        let metadata: usize = request.protocols.iter().map(|(n, m)| n.len() + m.len()).sum();
        if request.protocols.len() > MAX_PROTOCOLS
            || request.protocol_type.len() + metadata > MAX_MEMBER_METADATA_BYTES
        {
            return Err(code::INVALID_REQUEST);
        }
        // Drawn before the lock: a syscall (the OS's random source) held up no other group.
        let fresh = match request.member_id {
            "" => Some(self.new_member_id()?),
            _ => None,
        };
        let mut groups = self.groups.lock();
        self.sweep_if_due(&mut groups, RETENTION_SWEEP_INTERVAL);
        let admitted = |groups: &HashMap<String, Group>| {
            groups.len() < MAX_GROUPS || groups.contains_key(request.group_id)
        };
        if !admitted(&groups) {
            self.sweep_if_due(&mut groups, SWEEP_INTERVAL);
            if !admitted(&groups) {
                return Err(code::POLICY_VIOLATION);
            }
        }
        let now = Instant::now();
        let group = groups.entry(request.group_id.to_owned()).or_insert_with(Group::new);
        expire(group, now);
        // A join refused here keeps nothing: a group it made (or emptied by expiry) is dropped
        // again, so refused joins never fill the cap on groups.
        let member_id = match admit_member(group, &request, fresh) {
            Ok(id) => id,
            Err(refused) => {
                forget_if_idle(&mut groups, request.group_id);
                return Err(refused);
            }
        };
        let member = Member {
            session,
            rebalance,
            protocol_type: request.protocol_type.to_owned(),
            // Copied: the request's buffer is freed once it is answered.
            protocols: request.protocols.into_iter().map(|(n, m)| (n, Bytes::copy_from_slice(&m))).collect(),
            seen: now,
            joining: true,
            assignment: Bytes::new(),
        };
        let grows = member_bytes(&member_id, &member)
            .saturating_sub(group.members.get(&member_id).map_or(0, |m| member_bytes(&member_id, m)));
        if !room_for(&mut groups, grows, |g| self.sweep_if_due(g, SWEEP_INTERVAL)) {
            forget_if_idle(&mut groups, request.group_id);
            return Err(code::POLICY_VIOLATION);
        }
        // The sweep may have forgotten the group if it was new and empty.
        let group = groups.entry(request.group_id.to_owned()).or_insert_with(Group::new);
        group.members.insert(member_id.clone(), member);
        recount(group);
        if !matches!(group.phase, Phase::Joining { .. }) {
            start_rebalance(group, now);
        }
        group.changed.notify_all();
        self.wait_joined(groups, request.group_id, &member_id, stopping)
    }

    /// Waits until `member_id`'s join completes; completes it when every member has joined or
    /// the deadline passed.
    fn wait_joined(
        &self,
        mut groups: MutexGuard<'_, HashMap<String, Group>>,
        group_id: &str,
        member_id: &str,
        stopping: &AtomicBool,
    ) -> Answer<Joined> {
        loop {
            let group = groups.get_mut(group_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
            let now = Instant::now();
            expire(group, now);
            let member = group.members.get(member_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
            if !member.joining {
                return Ok(joined(group, member_id));
            }
            let Phase::Joining { deadline } = group.phase else {
                return Err(code::REBALANCE_IN_PROGRESS);
            };
            if group.members.values().all(|m| m.joining) || now >= deadline {
                complete_join(group);
                group.changed.notify_all();
                continue;
            }
            if stopping.load(Ordering::Acquire) {
                return Err(code::COORDINATOR_NOT_AVAILABLE);
            }
            let changed = Arc::clone(&group.changed);
            changed.wait_for(&mut groups, WAIT_SLICE.min(deadline - now));
        }
    }

    /// SyncGroup: stores the leader's assignment; answers each member its own.
    ///
    /// Any other member's `assignments` are ignored, and dropped before it waits for the
    /// leader's: they may be slices of the buffer of the request that carried them, which a
    /// follower waiting up to its session timeout must not keep alive.
    pub fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
        stopping: &AtomicBool,
    ) -> Answer<Bytes> {
        let mut groups = self.groups.lock();
        let group = member_of(&mut groups, group_id, generation, member_id)?;
        let deadline = Instant::now() + group.members[member_id].session.min(MAX_JOIN_WAIT);
        if group.phase == Phase::Syncing && group.leader.as_deref() == Some(member_id) {
            self.assign(&mut groups, group_id, generation, member_id, assignments)?;
        } else {
            drop(assignments);
        }
        loop {
            let group = member_of(&mut groups, group_id, generation, member_id)?;
            match group.phase {
                Phase::Stable => return Ok(group.members[member_id].assignment.clone()),
                Phase::Syncing if stopping.load(Ordering::Acquire) => {
                    return Err(code::COORDINATOR_NOT_AVAILABLE)
                }
                Phase::Syncing if Instant::now() < deadline => {}
                _ => return Err(code::REBALANCE_IN_PROGRESS),
            }
            let changed = Arc::clone(&group.changed);
            changed.wait_for(&mut groups, WAIT_SLICE);
        }
    }

    /// The leader's SyncGroup: stores each member's assignment (copied out of the request) and
    /// makes the group stable.
    fn assign(
        &self,
        groups: &mut HashMap<String, Group>,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Answer<()> {
        let group = member_of(groups, group_id, generation, member_id)?;
        let fits = assignments
            .iter()
            .all(|(id, a)| a.len() <= MAX_MEMBER_METADATA_BYTES && group.members.contains_key(id.as_str()));
        if !fits {
            return Err(code::INVALID_REQUEST);
        }
        // One assignment per member (the last given), copied out of the request.
        let assignments: HashMap<String, Bytes> =
            assignments.into_iter().map(|(id, a)| (id, Bytes::copy_from_slice(&a))).collect();
        let grows = assignments
            .iter()
            .map(|(id, a)| a.len().saturating_sub(group.members[id.as_str()].assignment.len()))
            .sum();
        if !room_for(groups, grows, |g| self.sweep_if_due(g, SWEEP_INTERVAL)) {
            return Err(code::POLICY_VIOLATION);
        }
        // The sweep may have removed the leader, if it was past its session.
        let group = member_of(groups, group_id, generation, member_id)?;
        for (id, assignment) in assignments {
            if let Some(m) = group.members.get_mut(&id) {
                m.assignment = assignment;
            }
        }
        recount(group);
        group.phase = Phase::Stable;
        group.changed.notify_all();
        Ok(())
    }

    /// A new member's id: `synclog-member-<n>-<32 hex digits>`, the hex 128 bits from the OS's
    /// random source (`getrandom`), so nobody can name another client's member by guessing.
    fn new_member_id(&self) -> Answer<String> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| {
            eprintln!("synclog: kafka: no random member id: {e}");
            code::UNKNOWN_SERVER_ERROR
        })?;
        let n = self.next_member.fetch_add(1, Ordering::Relaxed);
        Ok(format!("synclog-member-{n}-{:032x}", u128::from_be_bytes(random)))
    }

    /// Heartbeat: keeps the member alive; REBALANCE_IN_PROGRESS tells it to rejoin.
    pub fn heartbeat(&self, group_id: &str, generation: i32, member_id: &str) -> Answer<()> {
        let mut groups = self.groups.lock();
        let group = member_of(&mut groups, group_id, generation, member_id)?;
        match group.phase {
            Phase::Joining { .. } => Err(code::REBALANCE_IN_PROGRESS),
            _ => Ok(()),
        }
    }

    /// LeaveGroup: removes each member at once; the answer per member.
    pub fn leave(&self, group_id: &str, member_ids: &[String]) -> Answer<Vec<i16>> {
        let mut groups = self.groups.lock();
        let group = groups.get_mut(group_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
        let now = Instant::now();
        expire(group, now);
        let codes = member_ids
            .iter()
            .map(|id| match group.members.remove(id.as_str()) {
                Some(_) => code::NONE,
                None => code::UNKNOWN_MEMBER_ID,
            })
            .collect::<Vec<_>>();
        if codes.contains(&code::NONE) {
            recount(group);
            start_rebalance(group, now);
            group.changed.notify_all();
        }
        forget_if_idle(&mut groups, group_id);
        Ok(codes)
    }
}
