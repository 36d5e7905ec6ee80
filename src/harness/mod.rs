//! The harness: the load generator's building blocks and the integrity checker.
//!
//! - [`payload`]: the self-checking message every producer sends;
//! - [`history`]: the compact, thread-safe record of every send, fetch and the final drain;
//! - [`checker`]: the section C kinds of CHECKER.md, computed from a history;
//! - [`runfile`]: the `run.json` left in each topic the harness wrote, so `verify` can check payloads.

pub mod ceiling;
pub mod checker;
pub mod compare;
pub mod demo;
pub mod history;
pub mod payload;
pub mod peers;
pub mod run;
pub mod runfile;
pub mod transport;

pub use checker::check;
pub use history::{
    Actor, ConsumerRecorder, DrainRecorder, FetchOutcome, History, Operation, OperationCounts, OperationKind,
    OperationOutcome, RunShape, SendOutcome,
};
pub use payload::{decode_payload, encode_payload, PayloadError, ValueId};
pub use runfile::{payload_check_for, RunFile};
