//! Reports: what a person reads after a run. Everything here reads result rows
//! ([`RunReport`](crate::harness::run::RunReport)) only; nothing runs a workload.
//!
//! - [`table`]: the text a harness run prints;

pub mod table;
