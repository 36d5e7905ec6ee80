//! The rules of membership, as free functions over one group (or the map of them) held under
//! [`Groups`](super::Groups)' lock: who is a member, when one expires, how a rebalance starts
//! and completes, what a join answers, when a group is forgotten, and the names and sizes of
//! what a group keeps.

use super::{
    Answer, Committed, Group, JoinRequest, Joined, Member, Phase, COMMITTED_OFFSET_OVERHEAD_BYTES,
    HEX_NAMED_BYTES, MAX_GROUP_ID_BYTES, MAX_JOIN_WAIT, MAX_MEMBERS, MAX_MEMBER_STATE_BYTES,
    MAX_SESSION_TIMEOUT, MEMBER_OVERHEAD_BYTES, MIN_SESSION_TIMEOUT,
};
use crate::kafka::code;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The group, with `member_id` a member of `generation` (touched now), or the error code.
pub(super) fn member_of<'a>(
    groups: &'a mut HashMap<String, Group>,
    group_id: &str,
    generation: i32,
    member_id: &str,
) -> Answer<&'a mut Group> {
    let group = groups.get_mut(group_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
    let now = Instant::now();
    expire(group, now);
    let member = group.members.get_mut(member_id).ok_or(code::UNKNOWN_MEMBER_ID)?;
    member.seen = now;
    if generation != group.generation {
        return Err(code::ILLEGAL_GENERATION);
    }
    Ok(group)
}

/// What a committed offset counts for against the byte bounds: its topic name and its metadata
/// as the offsets file stores them (JSON strings, so a control character counts as the six
/// bytes of its escape) and [`COMMITTED_OFFSET_OVERHEAD_BYTES`].
pub fn committed_bytes(topic: &str, committed: &Committed) -> usize {
    let stored = |text: &str| serde_json::to_string(text).map_or(text.len() * 6 + 2, |json| json.len());
    stored(topic) + committed.metadata.as_deref().map_or(0, stored) + COMMITTED_OFFSET_OVERHEAD_BYTES
}

/// The name (without `.json`) of the offsets file of a group that has none yet: unique among
/// the files of `groups`, at most 2 × [`HEX_NAMED_BYTES`] + 22 bytes (see the module docs).
pub(super) fn file_stem(groups: &HashMap<String, Group>, group_id: &str) -> String {
    let id = group_id.as_bytes();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let base = match id.len() <= HEX_NAMED_BYTES {
        true => hex(id),
        false => format!("{}-{:016x}", hex(&id[..HEX_NAMED_BYTES]), fnv1a(id)),
    };
    let taken = |stem: &str| groups.values().any(|g| g.file.as_deref() == Some(stem));
    // At most one name per group is taken, so one of these is free.
    (1..=groups.len() + 1)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|stem| !taken(stem))
        .unwrap_or(base)
}

/// The 64-bit FNV-1a hash of `bytes`.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

pub(super) fn check_group_id(group_id: &str) -> Answer<()> {
    match group_id.len() {
        1..=MAX_GROUP_ID_BYTES => Ok(()),
        _ => Err(code::INVALID_GROUP_ID),
    }
}

pub(super) fn timeout(ms: i32) -> Answer<Duration> {
    let t = Duration::from_millis(ms.max(0) as u64);
    match (MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&t) {
        true => Ok(t),
        false => Err(code::INVALID_SESSION_TIMEOUT),
    }
}

/// Removes members silent for longer than their session timeout (not those waiting in a
/// JoinGroup); a group that loses one rebalances.
pub(super) fn expire(group: &mut Group, now: Instant) {
    let before = group.members.len();
    group.members.retain(|_, m| m.joining || now.duration_since(m.seen) <= m.session);
    if group.members.len() != before {
        recount(group);
        start_rebalance(group, now);
    }
}

/// Starts a rebalance (or empties the group): every member must rejoin before the deadline.
pub(super) fn start_rebalance(group: &mut Group, now: Instant) {
    if group.members.is_empty() {
        group.phase = Phase::Empty;
        group.leader = None;
        group.active = now;
        return;
    }
    let wait = group.members.values().map(|m| m.rebalance).max().unwrap_or_default().min(MAX_JOIN_WAIT);
    group.phase = Phase::Joining { deadline: now + wait };
}

/// Ends the join phase: drops members that did not rejoin, bumps the generation, chooses the
/// leader and the protocol.
pub(super) fn complete_join(group: &mut Group) {
    group.members.retain(|_, m| m.joining);
    group.generation = group.generation.wrapping_add(1).max(1);
    let leader = match &group.leader {
        Some(l) if group.members.contains_key(l) => l.clone(),
        _ => group.members.keys().next().cloned().unwrap_or_default(),
    };
    let protocol = group.members.get(&leader).and_then(|l| {
        l.protocols
            .iter()
            .map(|(p, _)| p)
            .find(|p| group.members.values().all(|m| m.protocols.iter().any(|(q, _)| q == *p)))
            .cloned()
    });
    let now = Instant::now();
    for m in group.members.values_mut() {
        m.joining = false;
        m.seen = now;
        m.assignment = Bytes::new();
    }
    recount(group);
    group.leader = Some(leader);
    group.protocol = protocol;
    group.phase = if group.members.is_empty() { Phase::Empty } else { Phase::Syncing };
    if group.members.is_empty() {
        group.active = now;
    }
}

pub(super) fn joined(group: &Group, member_id: &str) -> Joined {
    let protocol = group.protocol.clone().unwrap_or_default();
    let leader = group.leader.clone().unwrap_or_default();
    let members = match leader == member_id {
        true => group
            .members
            .iter()
            .map(|(id, m)| {
                let metadata = m.protocols.iter().find(|(p, _)| *p == protocol).map(|(_, d)| d.clone());
                (id.clone(), metadata.unwrap_or_default())
            })
            .collect(),
        false => Vec::new(),
    };
    Joined { generation: group.generation, protocol, leader, member_id: member_id.to_owned(), members }
}

/// Whether `request` may join `group`, and as whom: a new member (`fresh`, its id drawn) while
/// the group has room, or a member it already holds; the protocols must match the other members'.
pub(super) fn admit_member(
    group: &Group,
    request: &JoinRequest<'_>,
    fresh: Option<String>,
) -> Answer<String> {
    if request.member_id.is_empty() && group.members.len() >= MAX_MEMBERS {
        return Err(code::GROUP_MAX_SIZE_REACHED);
    }
    let compatible = group.members.iter().filter(|(id, _)| *id != request.member_id).all(|(_, m)| {
        m.protocol_type == request.protocol_type
            && m.protocols.iter().any(|(p, _)| request.protocols.iter().any(|(q, _)| p == q))
    });
    if !compatible {
        return Err(code::INCONSISTENT_GROUP_PROTOCOL);
    }
    match (fresh, request.member_id) {
        (Some(fresh), _) => Ok(fresh),
        (None, id) if group.members.contains_key(id) => Ok(id.to_owned()),
        (None, _) => Err(code::UNKNOWN_MEMBER_ID),
    }
}

/// Drops a group with neither members nor offsets from memory (it has no file either), unless
/// a commit is writing its first file.
pub(super) fn forget_if_idle(groups: &mut HashMap<String, Group>, group_id: &str) {
    if groups.get(group_id).is_some_and(|g| g.members.is_empty() && g.offsets.is_empty() && !g.committing) {
        groups.remove(group_id);
    }
}

/// What a member counts for against [`MAX_MEMBER_STATE_BYTES`]: its id, protocol type,
/// protocols' names and metadata, assignment and [`MEMBER_OVERHEAD_BYTES`].
pub(super) fn member_bytes(id: &str, m: &Member) -> usize {
    let protocols: usize = m.protocols.iter().map(|(name, metadata)| name.len() + metadata.len()).sum();
    id.len() + m.protocol_type.len() + protocols + m.assignment.len() + MEMBER_OVERHEAD_BYTES
}

/// Recounts what a group's members count for, after they changed.
pub(super) fn recount(group: &mut Group) {
    group.member_bytes = group.members.iter().map(|(id, m)| member_bytes(id, m)).sum();
}

/// Whether all groups' members can hold `grows` more bytes within [`MAX_MEMBER_STATE_BYTES`],
/// after `sweep` when they cannot at first.
pub(super) fn room_for(
    groups: &mut HashMap<String, Group>,
    grows: usize,
    sweep: impl FnOnce(&mut HashMap<String, Group>),
) -> bool {
    let fits = |groups: &HashMap<String, Group>| {
        groups.values().map(|g| g.member_bytes).sum::<usize>() + grows <= MAX_MEMBER_STATE_BYTES
    };
    if grows == 0 || fits(groups) {
        return true;
    }
    sweep(groups);
    fits(groups)
}

/// Removes every group's members past their session timeout and forgets the groups left with
/// neither members nor offsets (nor a commit writing their first file): run before a bound on
/// groups or member state refuses anything.
pub(super) fn sweep(groups: &mut HashMap<String, Group>) {
    let now = Instant::now();
    for group in groups.values_mut() {
        expire(group, now);
    }
    groups.retain(|_, g| !(g.members.is_empty() && g.offsets.is_empty() && !g.committing));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_offset_counts_its_strings_as_the_offsets_file_stores_them() {
        let with = |metadata: &str| Committed { offset: 0, metadata: Some(metadata.to_owned()) };
        // "t" and "abc" are stored with their quotes.
        assert_eq!(committed_bytes("t", &with("abc")), 3 + 5 + COMMITTED_OFFSET_OVERHEAD_BYTES);
        // A control character is stored as a six-byte escape (\u0001).
        assert_eq!(
            committed_bytes("t", &with(&"\u{1}".repeat(10))),
            3 + 62 + COMMITTED_OFFSET_OVERHEAD_BYTES
        );
        assert_eq!(
            committed_bytes("t", &Committed { offset: 5, metadata: None }),
            3 + COMMITTED_OFFSET_OVERHEAD_BYTES
        );
    }
}
