//! Reports: what a person reads after a run. Everything here reads result rows
//! ([`rows::RunReport`], [`rows::Comparison`]) only; nothing here runs a workload, and nothing
//! here imports the experiment runner, which fills the rows.
//!
//! - [`rows`]: the row types, filled by the runner;
//! - [`table`]: the text a harness run prints;
//! - [`locks`]: the locks' own figures and the fairness of a run (`--lock-stats`);
//! - [`summary`]: `results.json`, `results.csv` ([`compare_csv`]) and `summary.md` of a comparison;
//! - [`charts`]: its SVG and PNG charts;
//! - [`rates`]: the open-loop latency curves of `compare --rates`;
//! - [`lab_summary`], [`lab_goals`] and [`lab_charts`]: the files, goal check and charts of
//!   `harness lab` ([`rows::Lab`]).

pub mod charts;
pub mod compare_csv;
pub mod lab_charts;
pub mod lab_goals;
pub mod lab_summary;
pub mod lock_charts;
pub mod locks;
pub mod page;
pub mod quoted;
pub mod rates;
pub mod rows;
pub mod summary;
pub mod table;

pub use rows::{
    Ceilings, Cell, Comparison, Figures, Goal, Machine, PeerFigure, PeerKind, RunReport, SectionCost,
    TransportKind,
};
pub use summary::write_comparison;

/// `n` and `noun`, the noun plural unless `n` is 1: "1 producer", "4 producers".
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
