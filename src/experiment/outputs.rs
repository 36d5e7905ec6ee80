//! Checking, before a run or a sweep starts, that what it will write at the end can be
//! written: a directory (`--out`, `--report`, `--data-dir`) is created and a file is made in it
//! and removed; a file (`--json`) is opened for writing, and removed again if it did not exist.
//! A path that fails is named in the error, with the flag and what was being done, so a long
//! run never ends by failing to save what it measured.

use anyhow::{bail, Context};
use std::path::Path;

/// Creates `dir` (given by `flag`) if missing and checks that a file can be created in it.
pub fn prepare_dir(flag: &str, dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("{flag} {}: it exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{flag} {}: cannot create the directory", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".synclog-probe-")
        .tempfile_in(dir)
        .with_context(|| format!("{flag} {}: cannot create a file in the directory", dir.display()))?;
    Ok(())
}

/// Checks that the file `path` (given by `flag`) can be written, without changing it: an
/// existing file is opened for writing and left as it was; a new one is created and removed.
pub fn probe_file(flag: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!("{flag} {}: it is a directory, not a file", path.display());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("{flag} {}: cannot open the file for writing", path.display()))?;
    if !existed {
        std::fs::remove_file(path)
            .with_context(|| format!("{flag} {}: cannot remove the probe file", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_cannot_be_written_is_named_with_its_flag() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"kept").expect("write");
        let e = format!("{:#}", prepare_dir("--out", &file).expect_err("a file is no directory"));
        assert!(e.contains("--out") && e.contains("a-file") && e.contains("not a directory"), "{e}");
        let missing = dir.path().join("no-such-dir").join("r.json");
        let e = format!("{:#}", probe_file("--json", &missing).expect_err("no parent"));
        assert!(e.contains("--json") && e.contains("no-such-dir"), "{e}");
        let e = format!("{:#}", probe_file("--json", dir.path()).expect_err("a directory"));
        assert!(e.contains("is a directory"), "{e}");
        // What can be written is left as it was.
        probe_file("--json", &file).expect("an existing file");
        assert_eq!(std::fs::read(&file).expect("read"), b"kept");
        let new = dir.path().join("new.json");
        probe_file("--json", &new).expect("a new file");
        assert!(!new.exists(), "the probe leaves no file behind");
        prepare_dir("--out", &dir.path().join("out")).expect("a new directory");
        assert!(dir.path().join("out").is_dir());
    }
}
