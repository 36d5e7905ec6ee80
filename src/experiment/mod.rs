//! The experiment runner: it starts brokers (or reaches one), races producers and consumers,
//! drains, verifies and checks, and fills the report's rows ([`crate::report::rows`]). It prints
//! nothing for people and picks no exit code: each entry point returns an [`Outcome`] (or a row),
//! and the binaries in `src/bin/` turn it into text and an exit code.
//!
//! - [`run`]: one run (load, drain, verify, check);
//! - [`transport`]: how the load reaches the log (TCP, in-process, Kafka protocol);
//! - [`ceiling`]: what the machine itself reaches (positional writes, loopback echo, fdatasync);
//! - [`compare`]: the matrix of strategies × producers × consumers;
//! - [`goals`]: the performance-goal table, as data;
//! - [`peers`]: Redis Streams and NATS JetStream on the goal workloads;
//! - [`demo`]: the classroom demo;
//! - [`lab`]: the read/write sweep straight on the log (`harness lab`);
//! - `workers`: the producer, consumer and drain threads of a run;
//! - `figures`: a run's rates (acknowledged messages only), open-loop row and sync figures;
//! - [`outputs`]: checking before a run that its files can be written;
//! - [`verify`]: `synclog verify`, the offline check of a data dir.

pub mod bench_figures;
pub mod ceiling;
pub mod compare;
pub mod demo;
mod figures;
pub mod goals;
pub mod lab;
mod locks;
pub mod outputs;
pub mod payloads;
pub mod peers;
pub mod run;
pub mod scratch;
pub mod transport;
pub mod verify;
pub mod warm;
mod workers;

/// What an experiment concluded; the binaries map it to an exit code (docs/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ran, and what it checked is clean (or, for the demo, came out as taught).
    Clean,
    /// An integrity violation where there must be none.
    Violated,
    /// The demo's race never showed, even at the widest window tried.
    NotAsTaught,
    /// Clean, but some run's sends were not all acknowledged (`compare`): its figures count
    /// only what was, so the matrix is not the workload asked for.
    Incomplete,
}
