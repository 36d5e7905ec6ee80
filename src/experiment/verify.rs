//! `synclog verify`: the offline check of a data dir (sections A and B of docs/violations.md, and
//! the payload kinds in topics a harness run wrote), as a report for a person.

use super::Outcome;
use crate::check::{payload_check_for, RunFile};
use crate::report::count;
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
            "topic {}{}: {}, {}, {}: {verdict}{}",
            r.topic,
            RunFile::read(&data_dir.join(&r.topic))
                .map(|run| format!(" (a harness run under {})", run.strategy))
                .unwrap_or_default(),
            count(r.records, "record"),
            count(r.log_bytes, "byte"),
            if r.index_entries == 1 {
                "1 index entry".to_string()
            } else {
                format!("{} index entries", r.index_entries)
            },
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
            "verdict: {} ({bad_topics} of {} corrupted)",
            if bad_topics == 0 { "clean" } else { "corrupted" },
            count(reports.len() as u64, "topic")
        )?;
    }
    Ok(if bad_topics == 0 { Outcome::Clean } else { Outcome::Violated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record::encode_record;
    use crate::storage::{IndexEntry, INDEX_FILE, INDEX_INTERVAL, LOG_FILE};
    use std::fs;

    /// A data dir with one clean topic `t` of `records` records and their index entries.
    fn data_dir(records: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let topic = dir.path().join("t");
        fs::create_dir(&topic).expect("topic dir");
        let (mut log, mut index) = (Vec::new(), Vec::new());
        for offset in 0..records {
            if offset % INDEX_INTERVAL == 0 {
                index.extend(IndexEntry { offset, position: log.len() as u64 }.to_bytes());
            }
            encode_record(offset, b"payload", &mut log);
        }
        fs::write(topic.join(LOG_FILE), &log).expect("write log.dat");
        fs::write(topic.join(INDEX_FILE), &index).expect("write index.dat");
        dir
    }

    fn printed(dir: &Path) -> String {
        let mut out = Vec::new();
        let outcome = verify(dir, None, 1024, &mut out).expect("verify");
        assert!(matches!(outcome, Outcome::Clean), "a clean topic");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn one_record_and_one_index_entry_are_singular() {
        let dir = data_dir(1);
        let text = printed(dir.path());
        assert!(text.contains("topic t: 1 record, "), "{text}");
        assert!(text.contains(", 1 index entry: clean"), "{text}");
        assert!(text.contains("verdict: clean (0 of 1 topic corrupted)"), "{text}");
    }

    #[test]
    fn several_records_and_index_entries_are_plural() {
        let dir = data_dir(INDEX_INTERVAL + 1);
        let text = printed(dir.path());
        assert!(text.contains("topic t: 101 records, "), "{text}");
        assert!(text.contains(" bytes, 2 index entries: clean"), "{text}");
    }
}
