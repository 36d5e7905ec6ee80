//! Entry points shared by the binaries: each parses nothing, prints for a person, and returns
//! the process exit code (0 success and clean, 3 integrity violated, 1 any other error).

use crate::storage::verify_data_dir;
use crate::violations::ViolationKind;
use std::io::Write;
use std::path::Path;

/// Exit code: success and clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error that is not an integrity violation.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad usage (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: integrity violated.
pub const EXIT_VIOLATED: u8 = 3;

/// `synclog verify`: checks every topic (or one) of a data dir, read-only, and prints what it
/// found. A torn tail is informational here (a crash leaves one and the next open cuts it).
pub fn verify(
    data_dir: &Path,
    topic: Option<&str>,
    max_message_bytes: u32,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let reports = verify_data_dir(data_dir, topic, max_message_bytes, crate::harness::payload_check_for)?;
    let mut bad_topics = 0;
    for r in &reports {
        let errors: Vec<(ViolationKind, u64)> =
            r.violations.found().filter(|&(k, _)| k.is_error() && k != ViolationKind::TornTail).collect();
        let torn = r.violations.count(ViolationKind::TornTail);
        let verdict = if errors.is_empty() { "clean" } else { "CORRUPTED" };
        writeln!(
            out,
            "topic {}: {} records, {} bytes, {} index entries: {verdict}{}",
            r.topic,
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
    Ok(if bad_topics == 0 { EXIT_OK } else { EXIT_VIOLATED })
}
