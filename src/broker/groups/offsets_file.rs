//! Each group's committed offsets on disk, in `<data-dir>/@groups/` (docs/format.md): a
//! snapshot, `<stem>.json`, written whole and atomically, and a journal, `<stem>.journal`, one
//! JSON line per commit, appended and `fdatasync`ed before the commit is answered.
//!
//! Every commit that changes something gets the group's next sequence number. A group's first
//! commit writes its snapshot (no journal yet); the next ones append to the journal a line
//! holding only the offsets they change, until the journal has grown past
//! [`JOURNAL_MIN_BYTES`] and past what the group's offsets count for; the commit after that
//! writes a new snapshot of every offset (temporary file, fsync, rename, fsync of the directory)
//! and deletes the journal. So a commit writes about what it carries, and all commits together
//! write at most about twice that plus one snapshot per [`JOURNAL_MIN_BYTES`]; before the
//! journal, every commit rewrote the whole file: one offset changed in a group holding 1 MiB of
//! offsets wrote 1 MiB.
//!
//! The snapshot holds the sequence number of the last commit it covers, and start-up replays
//! only the journal lines numbered after it, in order. That is what makes every crash safe:
//! a crash between a snapshot's rename and its journal's deletion leaves lines the snapshot
//! already covers (skipped), and a line whose append failed is skipped once a later snapshot
//! covers its number. A journal's last line without its newline was torn by a crash; it was
//! never acknowledged, and start-up cuts it off. A journal with no snapshot beside it (left
//! by a crash while an expired group's files were being deleted, snapshot first) is deleted.
//!
//! A write that fails is answered as failed, but what it did write may outlive it: an append
//! is cut back (if the file still can be), while a snapshot renamed into place before its
//! directory's fsync failed stays. So a commit answered as failed may be found after a
//! restart, as with any write whose outcome a failed sync leaves unknown; one answered as
//! done is always found.

use super::Committed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A journal shorter than this is never compacted into a snapshot. Small, because journals
/// are not counted against the committed-offset bounds: all of them together take at most
/// about what those bounds allow plus this much per group (1000 × 8 KiB).
pub const JOURNAL_MIN_BYTES: u64 = 8 * 1024;

/// A group's snapshot, `<stem>.json`.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    group: String,
    /// The last commit it covers (0 in a file written before the journal existed).
    #[serde(default)]
    seq: u64,
    offsets: BTreeMap<String, Committed>,
}

/// One line of a journal: a commit's changed offsets.
#[derive(Serialize, Deserialize)]
struct Line {
    seq: u64,
    offsets: BTreeMap<String, Committed>,
}

/// A group as start-up reads it back.
pub(super) struct Stored {
    pub group: String,
    pub offsets: BTreeMap<String, Committed>,
    pub stem: String,
    /// The last commit found, in the snapshot or the journal.
    pub seq: u64,
    /// The journal's length once any torn line is cut off (0: none).
    pub journal_bytes: u64,
}

fn snapshot_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.json"))
}

fn journal_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.journal"))
}

pub(super) fn invalid(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
}

/// Reads every group's snapshot and replays its journal; deletes leftover temporary files and
/// journals without a snapshot. A file that does not parse is an error naming it.
pub(super) fn read_all(dir: &Path) -> io::Result<Vec<Stored>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries.collect::<Result<Vec<_>, _>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut stored = Vec::new();
    for entry in &entries {
        let path = entry.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        match path.extension().and_then(|e| e.to_str()) {
            // A snapshot that crashed before its rename: the previous one still holds.
            Some("tmp") => fs::remove_file(&path)?,
            Some("journal") if !snapshot_path(dir, &stem).exists() => fs::remove_file(&path)?,
            Some("json") => stored.push(read_group(dir, &path, stem)?),
            _ => {}
        }
    }
    Ok(stored)
}

/// One group's snapshot at `path`, with its journal replayed.
fn read_group(dir: &Path, path: &Path, stem: String) -> io::Result<Stored> {
    let snapshot: Snapshot = serde_json::from_slice(&fs::read(path)?).map_err(|e| invalid(path, e))?;
    let (mut offsets, mut seq) = (snapshot.offsets, snapshot.seq);
    let journal = journal_path(dir, &stem);
    let bytes = match fs::read(&journal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    // Everything after the last newline is a line a crash tore: never acknowledged.
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if whole < bytes.len() {
        let file = OpenOptions::new().write(true).open(&journal)?;
        file.set_len(whole as u64)?;
        file.sync_all()?;
    }
    for text in bytes[..whole].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line: Line = serde_json::from_slice(text).map_err(|e| invalid(&journal, e))?;
        if line.seq > snapshot.seq {
            offsets.extend(line.offsets);
            seq = seq.max(line.seq);
        }
    }
    Ok(Stored { group: snapshot.group, offsets, stem, seq, journal_bytes: whole as u64 })
}

/// Writes `<stem>.json` atomically (temporary file, fsync, rename, fsync of the directory),
/// then deletes the journal it replaces.
pub(super) fn write_snapshot(
    dir: &Path,
    stem: &str,
    group: &str,
    seq: u64,
    offsets: &BTreeMap<String, Committed>,
) -> io::Result<()> {
    let temp = dir.join(format!("{stem}.tmp"));
    let snapshot = Snapshot { group: group.to_owned(), seq, offsets: offsets.clone() };
    let bytes = serde_json::to_vec_pretty(&snapshot).map_err(io::Error::other)?;
    fs::create_dir_all(dir)?;
    let mut out = File::create(&temp)?;
    out.write_all(&bytes)?;
    out.sync_all()?;
    drop(out);
    fs::rename(&temp, snapshot_path(dir, stem))?;
    File::open(dir)?.sync_all()?;
    // Lines the snapshot covers are skipped at start-up: a journal left behind does no harm.
    if let Err(e) = remove_if_there(&journal_path(dir, stem)) {
        eprintln!("synclog: kafka: cannot delete the journal {stem}.journal (its snapshot covers it): {e}");
    }
    Ok(())
}

/// Appends commit `seq`'s changed offsets to `<stem>.journal` and `fdatasync`s it; returns the
/// bytes appended. On failure it cuts the journal back to where it was, if it can.
pub(super) fn append(
    dir: &Path,
    stem: &str,
    seq: u64,
    changes: &BTreeMap<String, Committed>,
) -> io::Result<u64> {
    let path = journal_path(dir, stem);
    let mut text = serde_json::to_vec(&Line { seq, offsets: changes.clone() }).map_err(io::Error::other)?;
    text.push(b'\n');
    let (mut file, created) = match OpenOptions::new().append(true).open(&path) {
        Ok(file) => (file, false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            (OpenOptions::new().append(true).create_new(true).open(&path)?, true)
        }
        Err(e) => return Err(e),
    };
    let before = file.metadata()?.len();
    let written = file.write_all(&text).and_then(|()| file.sync_data());
    let written = written.and_then(|()| if created { File::open(dir)?.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        let _ = file.set_len(before);
        return Err(e);
    }
    Ok(text.len() as u64)
}

/// Deletes a group's files, the snapshot first: a crash between the two leaves a journal
/// without its snapshot, which start-up deletes (the other way round it would leave a
/// snapshot without the commits its journal held, and bring them back older).
pub(super) fn remove(dir: &Path, stem: &str) -> io::Result<()> {
    remove_if_there(&snapshot_path(dir, stem))?;
    remove_if_there(&journal_path(dir, stem))?;
    File::open(dir)?.sync_all()
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Committed {
        Committed { offset, metadata: None }
    }

    fn offsets(pairs: &[(&str, i64)]) -> BTreeMap<String, Committed> {
        pairs.iter().map(|&(t, o)| (t.to_owned(), at(o))).collect()
    }

    fn only(dir: &Path) -> Stored {
        let mut all = read_all(dir).expect("read");
        assert_eq!(all.len(), 1, "one group");
        all.remove(0)
    }

    #[test]
    fn start_up_replays_the_journal_over_the_snapshot_and_cuts_off_a_torn_line() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        write_snapshot(d, "g", "billing", 1, &offsets(&[("a", 1), ("b", 1)])).expect("snapshot");
        let first = append(d, "g", 2, &offsets(&[("a", 2)])).expect("append");
        append(d, "g", 3, &offsets(&[("c", 3)])).expect("append");
        let whole = fs::metadata(journal_path(d, "g")).expect("journal").len();
        // A crash in the middle of the next line's append.
        OpenOptions::new()
            .append(true)
            .open(journal_path(d, "g"))
            .unwrap()
            .write_all(b"{\"seq\":4,\"off")
            .unwrap();
        let g = only(d);
        assert_eq!((g.group.as_str(), g.seq, g.journal_bytes), ("billing", 3, whole));
        assert!(first > 0 && whole > first);
        assert_eq!(g.offsets, offsets(&[("a", 2), ("b", 1), ("c", 3)]));
        assert_eq!(fs::metadata(journal_path(d, "g")).unwrap().len(), whole, "the torn line is cut off");
    }

    #[test]
    fn lines_a_snapshot_already_covers_are_not_replayed_over_it() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        write_snapshot(d, "g", "billing", 1, &offsets(&[("a", 1)])).expect("snapshot");
        append(d, "g", 2, &offsets(&[("a", 2)])).expect("append");
        let journal = fs::read(journal_path(d, "g")).expect("journal");
        // Compaction at commit 3 (a = 3), then a crash before the journal's deletion.
        write_snapshot(d, "g", "billing", 3, &offsets(&[("a", 3)])).expect("snapshot");
        assert!(!journal_path(d, "g").exists(), "a snapshot deletes the journal it replaces");
        fs::write(journal_path(d, "g"), &journal).expect("the journal as the crash left it");
        let g = only(d);
        assert_eq!((g.seq, g.offsets), (3, offsets(&[("a", 3)])), "line 2 must not undo commit 3");
    }

    #[test]
    fn a_snapshot_from_before_the_journal_reads_as_sequence_0_and_stray_files_are_deleted() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let old = r#"{ "group": "billing", "offsets": { "a": { "offset": 7, "metadata": "" } } }"#;
        fs::write(snapshot_path(d, "g"), old).expect("old file");
        fs::write(d.join("g.tmp"), "half a snapsh").expect("tmp");
        fs::write(journal_path(d, "orphan"), "{\"seq\":1,\"offsets\":{}}\n").expect("orphan");
        let g = only(d);
        assert_eq!((g.seq, g.offsets["a"].offset, g.journal_bytes), (0, 7, 0));
        assert!(!d.join("g.tmp").exists() && !journal_path(d, "orphan").exists());
        fs::write(journal_path(d, "g"), "{\"seq\":1,\"offsets\":{\"a\":nonsense}}\n").expect("bad line");
        let e = read_all(d).err().expect("a line that does not parse stops start-up");
        assert!(e.to_string().contains("g.journal"), "{e}");
        remove(d, "g").expect("remove");
        assert!(read_all(d).expect("read").is_empty());
    }
}
