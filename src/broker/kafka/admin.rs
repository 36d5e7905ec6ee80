//! DeleteTopics: the one admin api the Kafka listener serves, so that an operator can take back
//! the topics (and the `--max-topics` slots) that clients created, with Kafka's own tools
//! (`kafka-topics.sh --delete`, kafka-python's `KafkaAdminClient.delete_topics`).
//!
//! Deleting is off unless the broker was started with `--delete-topics` (Kafka's
//! `delete.topic.enable`, on by default there; off here, where nothing tells one client from
//! another): every topic named is then answered TOPIC_DELETION_DISABLED (73) and nothing is
//! deleted. With it, each topic named is deleted at once ([`Shared::delete_topic`]: its files,
//! its idempotent producers' state and its slot), before the answer goes out, and answered
//! NONE; a topic that does not exist (or a name no topic can have) UNKNOWN_TOPIC_OR_PARTITION
//! (3); one whose directory could not be renamed KAFKA_STORAGE_ERROR (56), and it stays. A
//! request naming more than [`MAX_PARTITIONS_PER_REQUEST`] topics has every one answered
//! INVALID_REQUEST (42), none deleted. The request's timeout is not needed: nothing is left to
//! wait for once the answer is sent. Committed offsets of consumer groups for a deleted topic
//! are kept; a group that commits to a topic created again under that name replaces them.

use super::super::shared::Shared;
use crate::kafka::{code, MAX_PARTITIONS_PER_REQUEST};
use crate::strategies::SyncStrategy;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};

/// DeleteTopics (see the module docs).
pub(super) fn delete_topics<S: SyncStrategy>(
    shared: &Shared<S>,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let too_many = request.topic_names.len() > MAX_PARTITIONS_PER_REQUEST;
    let responses = request
        .topic_names
        .into_iter()
        .map(|name| {
            let error_code = match (too_many, shared.config.delete_topics) {
                (true, _) => code::INVALID_REQUEST,
                (false, false) => code::TOPIC_DELETION_DISABLED,
                (false, true) => match shared.delete_topic(&name.0) {
                    Ok(true) => code::NONE,
                    Ok(false) => code::UNKNOWN_TOPIC_OR_PARTITION,
                    Err(e) => {
                        eprintln!("synclog: kafka: cannot delete topic {:?}: {e}", name.0.as_str());
                        code::KAFKA_STORAGE_ERROR
                    }
                },
            };
            DeletableTopicResult::default().with_name(Some(name)).with_error_code(error_code)
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
