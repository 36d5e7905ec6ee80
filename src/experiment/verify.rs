//! `synclog verify`: the offline check of a data dir (sections A and B of docs/violations.md, and
//! the payload kinds in topics a harness run wrote), as a report for a person.

use super::Outcome;
use crate::check::{payload_check_for, RunFile};
use crate::storage::verify_data_dir;
use crate::violations::ViolationKind;
use std::io::Write;
use std::path::Path;

/// `synclog verify`: checks every topic (or one) of a data dir, read-only, and prints what it
/// found. A torn tail is informational here (a crash leaves one and the next open cuts it).
pub fn verify(
    data_dir: &Path,
    topic: Option<&str>,
    max_message_bytes: u32,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let reports = verify_data_dir(data_dir, topic, max_message_bytes, payload_check_for)?;
    let mut bad_topics = 0;
    for r in &reports {
        let errors: Vec<(ViolationKind, u64)> =
            r.violations.found().filter(|&(k, _)| k.is_error() && k != ViolationKind::TornTail).collect();
        let torn = r.violations.count(ViolationKind::TornTail);
        let verdict = if errors.is_empty() { "clean" } else { "CORRUPTED" };
        writeln!(
            out,
            "topic {}{}: {} records, {} bytes, {} index entries: {verdict}{}",
            r.topic,
            RunFile::read(&data_dir.join(&r.topic))
                .map(|run| format!(" (a harness run under {})", run.strategy))
                .unwrap_or_default(),
            r.records,
            r.log_bytes,
            r.index_entries,
            if torn > 0 { " (torn tail: the next open truncates it)" } else { "" }
        )?;
        for (kind, n) in r.violations.found() {
            writeln!(out, "  {:<22} {n:>10}  {}", kind.name(), kind.meaning())?;
            for e in r.violations.examples(kind) {
                writeln!(out, "  {:<22} {:>10}  e.g. {e}", "", "")?;
            }
        }
        if !errors.is_empty() {
            bad_topics += 1;
        }
    }
    if reports.is_empty() {
        writeln!(out, "no topics in {}: clean", data_dir.display())?;
    } else {
        writeln!(
            out,
            "verdict: {} ({} of {} topics corrupted)",
            if bad_topics == 0 { "clean" } else { "corrupted" },
            bad_topics,
            reports.len()
        )?;
    }
    Ok(if bad_topics == 0 { Outcome::Clean } else { Outcome::Violated })
}
