//! The integrity checker: pure functions over what a run recorded, no I/O but `run.json`.
//!
//! - [`payload`]: the self-checking message every producer sends;
//! - [`history`]: the compact, thread-safe record of every send, fetch and the final drain;
//! - [`checker`]: the section C kinds of `docs/violations.md`, computed from a history;
//! - [`runfile`]: the `run.json` left in each topic the harness wrote, so `verify` can check
//!   payloads (its format is in `docs/format.md`).
//!
//! The kinds themselves, their names and sections, are in [`crate::violations`].

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
