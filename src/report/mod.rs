//! Reports: what a person reads after a run. Everything here reads result rows
//! ([`RunReport`](crate::harness::run::RunReport), [`Comparison`](crate::harness::compare::Comparison))
//! only; nothing here runs a workload.
//!
//! - [`table`]: the text a harness run prints;
//! - [`summary`]: `results.json`, `results.csv` and `summary.md` of a comparison;
//! - [`charts`]: its SVG and PNG charts.

pub mod charts;
pub mod page;
pub mod summary;
pub mod table;

pub use summary::write_comparison;
