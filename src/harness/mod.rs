//! The integrity checker: the payload format, the recorded history and the checks on it.
//!
//! - [`payload`]: the self-checking message every producer sends;
//! - [`history`]: the compact, thread-safe record of every send, fetch and the final drain;
//! - [`checker`]: the section C kinds of CHECKER.md, computed from a history;
//! - [`runfile`]: the `run.json` left in each topic the harness wrote, so `verify` can check payloads.

pub mod checker;
pub mod history;
pub mod payload;
pub mod runfile;

pub use checker::check;
pub use history::{
    Actor, ConsumerRecorder, DrainRecorder, FetchOutcome, History, Operation, OperationCounts, OperationKind,
    OperationOutcome, RunShape, SendOutcome,
};
pub use payload::{decode_payload, encode_payload, PayloadError, ValueId};
pub use runfile::{payload_check_for, RunFile};
