//! The figures `summary.md` prints that no run measured, each with its source, in a section of
//! their own: the original Java system's rate, and the peers' rates of synclog's committed
//! reference run when this run did not measure the peers. Nothing here judges a goal but the
//! original's row, whose target is the original's quoted rate.

use crate::report::rows::Comparison;
use std::fmt::Write as _;

/// The original system's rate on its workload (1–8 producers, one acknowledged message per
/// request): quoted, never measured by synclog (see [`ORIGINAL_SOURCE`]).
pub const ORIGINAL_MSGS_PER_S: f64 = 5_000.0;

/// Where the figures of the original Java system come from (synclog never ran it).
const ORIGINAL_SOURCE: &str = "as stated for the original Java course project in synclog's \
performance-goals issue (issue 5): about 5 000 messages/s on a 2-core machine with 1–8 producers, \
one acknowledged message per request. synclog never ran the original";

/// The peers' figures of synclog's own committed reference run, quoted when this run did not
/// measure them: (what, one at a time, 100 in flight).
const REFERENCE_PEERS: [(&str, &str, &str); 3] = [
    ("Redis 7.0.15 XADD, appendonly yes, appendfsync no", "83 k", "573 k"),
    ("Redis 7.0.15 XADD, appendonly yes, appendfsync always", "23 k", "382 k"),
    ("NATS 2.9.10 JetStream publish + ack, file storage", "55 k", "227 k"),
];

/// Where [`REFERENCE_PEERS`] come from.
const REFERENCE_PEERS_SOURCE: &str = "synclog's own reference comparison \
(`reports/reference/summary.md` as committed in 7155d03, 2026-11-27: 2 CPUs, ext4, 8 producers, \
100-byte messages, one connection each; that run checked each peer's stream length, not each \
value)";

/// A multiple of the quoted figure, cut rather than rounded (whole from 10 up, two decimals
/// below), so a rate under the quoted one never prints as 1× of it.
fn multiple(x: f64) -> String {
    crate::report::summary::cut(x, if x >= 10.0 { 0 } else { 2 })
}

/// Every figure not measured in this run, each with its source, apart from the run's own.
pub fn section(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "## Quoted figures (not measured in this run)\n");
    let _ = writeln!(
        s,
        "Nothing in this section was measured by the run above; each figure names its source. \
No goal of the table above was judged against a peer figure from here.\n"
    );
    let _ = write!(s, "- The original system: {ORIGINAL_SOURCE}.");
    if let Some(original) = c.goals.iter().find(|g| g.target.contains("original")) {
        let _ = write!(
            s,
            " On that workload (4 producers) this run measured {} messages/s, {}× the quoted figure.",
            crate::report::summary::human_cut(original.measured_msgs_per_s),
            multiple(original.measured_msgs_per_s / ORIGINAL_MSGS_PER_S)
        );
    }
    let _ = writeln!(s);
    let peers_measured = c.goals.iter().any(|g| !g.peers.is_empty());
    if !peers_measured && c.goals.iter().any(|g| g.peer_factor > 0.0) {
        let _ = writeln!(s, "- The peers, from {REFERENCE_PEERS_SOURCE}, in messages/s:");
        for (what, one, pipelined) in REFERENCE_PEERS {
            let _ = writeln!(s, "  - {what}: {one} one at a time, {pipelined} with 100 in flight");
        }
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rate_under_the_quoted_one_never_prints_as_one_times_it() {
        assert_eq!(super::multiple(4_990.0 / super::ORIGINAL_MSGS_PER_S), "0.99");
        assert_eq!(super::multiple(17.4), "17");
        assert_eq!(super::multiple(1.0), "1.00");
    }
}
