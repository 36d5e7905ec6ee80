//! The Kafka listener's group apis: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit and OffsetFetch, decoded here (after their shape check, as every
//! request: [`crate::kafka::shape`]) and served by the broker's [`Groups`]
//! ([`super::groups`], where the rules and the limits are).
//!
//! | what happened                                        | Kafka error                  |
//! |------------------------------------------------------|------------------------------|
//! | FindCoordinator for a key type other than group (0)  | NOT_COORDINATOR (16)         |
//! | a member id the group does not hold; a group unknown | UNKNOWN_MEMBER_ID (25)       |
//! | a generation other than the group's                  | ILLEGAL_GENERATION (22)      |
//! | the group is rebalancing (Heartbeat, SyncGroup, OffsetCommit) | REBALANCE_IN_PROGRESS (27) |
//! | the broker stops while a JoinGroup or SyncGroup waits | COORDINATOR_NOT_AVAILABLE (15) |
//! | an offset for a topic that does not exist, or partition ≠ 0 | UNKNOWN_TOPIC_OR_PARTITION (3) |
//! | the offsets file could not be written                | KAFKA_STORAGE_ERROR (56)     |
//! | OffsetCommit or OffsetFetch naming more than [`MAX_PARTITIONS_PER_REQUEST`] partitions | INVALID_REQUEST (42), every partition, none committed |
//! | OffsetFetch naming a partition twice (each answer may carry 4 KiB of metadata) | INVALID_REQUEST (42), every partition |
//!
//! and the limits' codes in [`super::groups`]. InitProducerId is served here too
//! ([`super::idempotence`]): a fresh producer id at epoch 0; a transactional id is refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), transactions not being served; a connection that
//! already asked for [`MAX_PRODUCER_IDS_PER_CONNECTION`] ids gets POLICY_VIOLATION (44), and
//! KAFKA_STORAGE_ERROR (56) answers when a new block of ids, or the key that makes
//! them ([`super::idempotence::ids`]), cannot be recorded. Each error
//! answers the request alone: the connection carries on.

use super::groups::{Committed, JoinRequest};
use super::idempotence::MAX_PRODUCER_IDS_PER_CONNECTION;
use super::kafka::partitions_valid;
use super::log_limit::RateLimited;
use super::shared::Shared;
use crate::kafka::{
    code, decode_request, encode_frame, shape, Direction, KafkaError, MAX_PARTITIONS_PER_REQUEST,
};
use crate::strategies::SyncStrategy;
use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse,
    InitProducerIdRequest, InitProducerIdResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    ProducerId, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The log line of a refused InitProducerId, at most once a second ([`super::log_limit`]).
static REFUSED_INIT: RateLimited = RateLimited::new();

/// A decoded group request.
pub(super) enum GroupRequest {
    FindCoordinator(FindCoordinatorRequest),
    Join(JoinGroupRequest),
    Sync(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    Leave(LeaveGroupRequest),
    Commit(OffsetCommitRequest),
    FetchOffsets(OffsetFetchRequest),
    /// Not a group api, but served alike: a producer id for an idempotent producer.
    InitProducerId(InitProducerIdRequest),
}

/// Checks and decodes a group api's body; `None` for any other api.
pub(super) fn decode_group(
    api: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<Option<GroupRequest>, KafkaError> {
    Ok(Some(match api {
        ApiKey::FindCoordinator => {
            let s = if version == 0 {
                shape::FIND_COORDINATOR_V0_REQUEST
            } else {
                shape::FIND_COORDINATOR_V1_REQUEST
            };
            GroupRequest::FindCoordinator(decode_request(api, version, s, body)?)
        }
        ApiKey::JoinGroup => {
            let s = match version {
                0 => shape::JOIN_GROUP_V0_REQUEST,
                1..=4 => shape::JOIN_GROUP_V1_REQUEST,
                _ => shape::JOIN_GROUP_V5_REQUEST,
            };
            GroupRequest::Join(decode_request(api, version, s, body)?)
        }
        ApiKey::SyncGroup => {
            let s = if version < 3 { shape::SYNC_GROUP_V0_REQUEST } else { shape::SYNC_GROUP_V3_REQUEST };
            GroupRequest::Sync(decode_request(api, version, s, body)?)
        }
        ApiKey::Heartbeat => {
            let s = if version < 3 { shape::HEARTBEAT_V0_REQUEST } else { shape::HEARTBEAT_V3_REQUEST };
            GroupRequest::Heartbeat(decode_request(api, version, s, body)?)
        }
        ApiKey::LeaveGroup => {
            let s = if version < 3 { shape::LEAVE_GROUP_V0_REQUEST } else { shape::LEAVE_GROUP_V3_REQUEST };
            GroupRequest::Leave(decode_request(api, version, s, body)?)
        }
        ApiKey::OffsetCommit => {
            let s = match version {
                2..=4 => shape::OFFSET_COMMIT_V2_REQUEST,
                5 => shape::OFFSET_COMMIT_V5_REQUEST,
                6 => shape::OFFSET_COMMIT_V6_REQUEST,
                _ => shape::OFFSET_COMMIT_V7_REQUEST,
            };
            GroupRequest::Commit(decode_request(api, version, s, body)?)
        }
        ApiKey::OffsetFetch => {
            GroupRequest::FetchOffsets(decode_request(api, version, shape::OFFSET_FETCH_V1_REQUEST, body)?)
        }
        ApiKey::InitProducerId => GroupRequest::InitProducerId(decode_request(
            api,
            version,
            shape::INIT_PRODUCER_ID_V0_REQUEST,
            body,
        )?),
        _ => return Ok(None),
    }))
}

/// Serves one group request and encodes its answer (a whole frame) into `out`.
pub(super) fn serve_group<S: SyncStrategy>(
    shared: &Shared<S>,
    advertised: SocketAddr,
    version: i16,
    correlation_id: i32,
    request: GroupRequest,
    producer_ids: &mut u32,
    out: &mut Vec<u8>,
) -> Result<(), KafkaError> {
    let header = correlation_id.to_be_bytes();
    let response = Direction::Response;
    let groups = &shared.groups;
    out.clear();
    match request {
        GroupRequest::FindCoordinator(r) => {
            let error_code = if r.key_type == 0 { code::NONE } else { code::NOT_COORDINATOR };
            let body = FindCoordinatorResponse::default()
                .with_error_code(error_code)
                .with_node_id(BrokerId(super::kafka::NODE_ID))
                .with_host(StrBytes::from_string(advertised.ip().to_string()))
                .with_port(i32::from(advertised.port()));
            encode_frame(ApiKey::FindCoordinator, version, response, &header, &body, out)
        }
        GroupRequest::Join(r) => {
            let body = join(shared, r);
            encode_frame(ApiKey::JoinGroup, version, response, &header, &body, out)
        }
        GroupRequest::Sync(r) => {
            let (group_id, generation, member_id, assignments) = owned_sync(r);
            let answer = groups.sync(&group_id, generation, &member_id, assignments, &shared.stopping);
            let body = match answer {
                Ok(assignment) => SyncGroupResponse::default().with_assignment(assignment),
                Err(c) => SyncGroupResponse::default().with_error_code(c),
            };
            encode_frame(ApiKey::SyncGroup, version, response, &header, &body, out)
        }
        GroupRequest::Heartbeat(r) => {
            let error_code =
                groups.heartbeat(&r.group_id, r.generation_id, &r.member_id).err().unwrap_or(code::NONE);
            let body = HeartbeatResponse::default().with_error_code(error_code);
            encode_frame(ApiKey::Heartbeat, version, response, &header, &body, out)
        }
        GroupRequest::Leave(r) => {
            let body = leave(shared, version, r);
            encode_frame(ApiKey::LeaveGroup, version, response, &header, &body, out)
        }
        GroupRequest::Commit(r) => {
            let body = commit(shared, r);
            encode_frame(ApiKey::OffsetCommit, version, response, &header, &body, out)
        }
        GroupRequest::FetchOffsets(r) => {
            let body = fetch_offsets(shared, r);
            encode_frame(ApiKey::OffsetFetch, version, response, &header, &body, out)
        }
        GroupRequest::InitProducerId(r) => {
            let body = init_producer_id(shared, r, producer_ids);
            encode_frame(ApiKey::InitProducerId, version, response, &header, &body, out)
        }
    }
}

/// InitProducerId: a fresh producer id, or the error that refuses it.
fn init_producer_id<S: SyncStrategy>(
    shared: &Shared<S>,
    r: InitProducerIdRequest,
    producer_ids: &mut u32,
) -> InitProducerIdResponse {
    match r.transactional_id {
        Some(id) => {
            REFUSED_INIT.log(|| {
                format!(
                    "synclog: kafka: refused transactional id {:?}: transactions are not supported",
                    &*id.0
                )
            });
            InitProducerIdResponse::default()
                .with_error_code(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        }
        None if *producer_ids >= MAX_PRODUCER_IDS_PER_CONNECTION => {
            REFUSED_INIT.log(|| {
                format!(
                    "synclog: kafka: refused InitProducerId: this connection already asked for \
                     {MAX_PRODUCER_IDS_PER_CONNECTION} producer ids"
                )
            });
            InitProducerIdResponse::default()
                .with_error_code(code::POLICY_VIOLATION)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        }
        None => match shared.producers.init() {
            Ok((id, epoch)) => {
                *producer_ids += 1;
                InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(epoch)
            }
            Err(error_code) => InitProducerIdResponse::default()
                .with_error_code(error_code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        },
    }
}

/// A SyncGroup's group id, generation, member id and assignments, the ids owned: every field
/// of a decoded request is a slice of one buffer holding the whole request, and a follower's
/// SyncGroup may wait up to its session timeout. The assignments are still slices of it: the
/// leader's are copied, a follower's dropped before it waits ([`super::groups::Groups::sync`]).
/// The rest of the request is dropped here.
fn owned_sync(r: SyncGroupRequest) -> (String, i32, String, Vec<(String, Bytes)>) {
    let assignments = r.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
    (r.group_id.to_string(), r.generation_id, r.member_id.to_string(), assignments)
}

/// A JoinGroup's fields, the ids owned and the rest of the request dropped (see [`owned_sync`]):
/// the protocols' metadata, still slices of the request, are copied before the join waits.
struct OwnedJoin {
    group_id: String,
    member_id: String,
    session_ms: i32,
    rebalance_ms: i32,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
}

impl OwnedJoin {
    fn new(r: JoinGroupRequest) -> OwnedJoin {
        OwnedJoin {
            group_id: r.group_id.to_string(),
            member_id: r.member_id.to_string(),
            session_ms: r.session_timeout_ms,
            // v0 has no rebalance timeout: the session timeout stands for it.
            rebalance_ms: r.rebalance_timeout_ms,
            protocol_type: r.protocol_type.to_string(),
            protocols: r.protocols.into_iter().map(|p| (p.name.to_string(), p.metadata)).collect(),
        }
    }
}

fn join<S: SyncStrategy>(shared: &Shared<S>, r: JoinGroupRequest) -> JoinGroupResponse {
    let r = OwnedJoin::new(r);
    let request = JoinRequest {
        group_id: &r.group_id,
        member_id: &r.member_id,
        session_ms: r.session_ms,
        rebalance_ms: r.rebalance_ms,
        protocol_type: &r.protocol_type,
        protocols: r.protocols,
    };
    match shared.groups.join(request, &shared.stopping) {
        Ok(joined) => {
            let members = joined
                .members
                .into_iter()
                .map(|(id, metadata)| {
                    JoinGroupResponseMember::default()
                        .with_member_id(StrBytes::from_string(id))
                        .with_metadata(metadata)
                })
                .collect();
            JoinGroupResponse::default()
                .with_generation_id(joined.generation)
                .with_protocol_name(Some(StrBytes::from_string(joined.protocol)))
                .with_leader(StrBytes::from_string(joined.leader))
                .with_member_id(StrBytes::from_string(joined.member_id))
                .with_members(members)
        }
        Err(c) => {
            JoinGroupResponse::default().with_error_code(c).with_member_id(StrBytes::from_string(r.member_id))
        }
    }
}

fn leave<S: SyncStrategy>(shared: &Shared<S>, version: i16, r: LeaveGroupRequest) -> LeaveGroupResponse {
    let ids: Vec<String> = match version {
        0..=2 => vec![r.member_id.to_string()],
        _ => r.members.iter().map(|m| m.member_id.to_string()).collect(),
    };
    match shared.groups.leave(&r.group_id, &ids) {
        Ok(codes) if version < 3 => LeaveGroupResponse::default().with_error_code(codes[0]),
        Ok(codes) => {
            let members = r
                .members
                .into_iter()
                .zip(codes)
                .map(|(m, c)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(c)
                })
                .collect();
            LeaveGroupResponse::default().with_members(members)
        }
        Err(c) => LeaveGroupResponse::default().with_error_code(c),
    }
}

fn commit<S: SyncStrategy>(shared: &Shared<S>, r: OffsetCommitRequest) -> OffsetCommitResponse {
    let offsets = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let metadata = p.committed_metadata.as_ref().map(|m| m.to_string());
                (t.name.to_string(), p.partition_index, Committed { offset: p.committed_offset, metadata })
            })
        })
        .collect();
    let exists = |topic: &str| shared.topics.get(topic).is_some();
    let total: usize = r.topics.iter().map(|t| t.partitions.len()).sum();
    let answer = match total > MAX_PARTITIONS_PER_REQUEST {
        true => Err(code::INVALID_REQUEST),
        false => {
            shared.groups.commit(&r.group_id, r.generation_id_or_member_epoch, &r.member_id, offsets, exists)
        }
    };
    let mut codes = match answer {
        Ok(codes) => codes,
        Err(c) => vec![c; total],
    }
    .into_iter();
    let topics = r
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(codes.next().unwrap_or(code::UNKNOWN_SERVER_ERROR))
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(t.name).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

fn fetch_offsets<S: SyncStrategy>(shared: &Shared<S>, r: OffsetFetchRequest) -> OffsetFetchResponse {
    // Only a list the client wrote is checked (at most 1000 partitions, none named twice: each
    // answer may carry its topic's metadata, up to 4 KiB); every committed topic is bounded by
    // the group's offsets. Only the topics named are copied out of the group.
    let valid = r.topics.as_ref().is_none_or(|topics| {
        partitions_valid(topics.iter().flat_map(|t| t.partition_indexes.iter().map(|&p| (&*t.name.0, p))))
    });
    let names = r.topics.as_ref().map(|topics| topics.iter().map(|t| &*t.name.0).collect::<Vec<&str>>());
    let committed =
        if valid { shared.groups.committed(&r.group_id, names.as_deref()) } else { BTreeMap::new() };
    let asked: Vec<(TopicName, Vec<i32>)> = match r.topics {
        Some(topics) => topics.into_iter().map(|t| (t.name, t.partition_indexes)).collect(),
        None => committed.keys().map(|t| (TopicName(StrBytes::from_string(t.clone())), vec![0])).collect(),
    };
    let error_code = if valid { code::NONE } else { code::INVALID_REQUEST };
    let topics = asked
        .into_iter()
        .map(|(name, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|p| {
                    let found = committed.get(&*name.0).filter(|_| p == 0 && valid);
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_error_code(error_code)
                        .with_committed_offset(found.map_or(-1, |c| c.offset))
                        .with_metadata(Some(StrBytes::from_string(
                            found.and_then(|c| c.metadata.clone()).unwrap_or_default(),
                        )))
                })
                .collect();
            OffsetFetchResponseTopic::default().with_name(name).with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
