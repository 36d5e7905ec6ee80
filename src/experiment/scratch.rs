//! Temporary directories, and child processes, that an interrupted harness cleans up too.
//!
//! A run, a compare or a lab keeps its data in temporary directories that are removed when it
//! ends, as a [`tempfile::TempDir`] is when dropped. An interrupt (Ctrl-C, SIGTERM) ends the
//! process without running any destructor, so each such directory is also listed here while it
//! lives, and the harness's signal watcher calls [`remove_all`] before it exits: a run stopped
//! half-way leaves no gigabytes of log behind in the temporary directory.
//!
//! The servers a compare starts (its peers, Redis and NATS) are listed the same way, as
//! [`Spawned`] children, and the watcher calls [`kill_all`] first: Ctrl-C reaches the whole
//! process group, servers included, but a SIGTERM sent to the harness alone (by `kill`, a job
//! runner, a timeout) would otherwise leave them running, writing into directories being
//! removed, for good.

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;

/// The temporary directories alive now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary directory, removed when dropped or when the harness is interrupted.
pub struct Scratch {
    /// Always `Some` until dropped.
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    /// A new directory named `prefix` and random characters, in the system's temporary
    /// directory (`$TMPDIR`, else `/tmp`).
    pub fn new(prefix: &str) -> std::io::Result<Scratch> {
        Scratch::listed(|| tempfile::Builder::new().prefix(prefix).tempdir())
    }

    /// A new directory named `prefix` and random characters, inside `parent`.
    pub fn new_in(prefix: &str, parent: &Path) -> std::io::Result<Scratch> {
        Scratch::listed(|| tempfile::Builder::new().prefix(prefix).tempdir_in(parent))
    }

    /// Makes the directory with the list locked, so no interrupt can come between its making
    /// and its listing.
    fn listed(make: impl FnOnce() -> std::io::Result<tempfile::TempDir>) -> std::io::Result<Scratch> {
        let mut live = LIVE.lock();
        let dir = make()?;
        live.push(dir.path().to_path_buf());
        Ok(Scratch { dir: Some(dir) })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("alive until dropped").path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Held while the directory goes: an interrupt that comes meanwhile waits for it, and
        // never finds a directory half removed and no longer listed.
        let mut live = LIVE.lock();
        if let Some(dir) = self.dir.take() {
            if let Some(i) = live.iter().position(|p| p == dir.path()) {
                live.swap_remove(i);
            }
            drop(dir);
        }
        drop(live);
    }
}

/// What [`remove_all`] did: the directories it removed, and those it could not, each with why.
pub struct Removed {
    pub removed: usize,
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

/// How many times [`remove_all`] looks again, [`RECHECK_EVERY`] apart, for a directory that a
/// thread still setting up made again after its removal.
const RECHECKS: u32 = 20;
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

/// Removes every temporary directory alive now (outermost first, so a directory inside
/// another goes with it). Called on an interrupt, just before the process exits; whatever a
/// thread still writes into them meanwhile is lost with them. A thread opening a data dir at
/// that moment can make it again (`create_dir_all`) just after its removal, so for 100 ms each
/// directory is looked for again and removed again. The list stays locked afterwards: no
/// directory can be made (or listed) after this, since the process is ending.
pub fn remove_all() -> Removed {
    let mut live = LIVE.lock();
    live.sort_by_key(|p| p.components().count());
    let mut removed = Removed { removed: 0, failed: Vec::new() };
    for dir in live.iter() {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => removed.removed += 1,
            // Inside a directory removed before it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.removed += 1,
            Err(e) => removed.failed.push((dir.clone(), e)),
        }
    }
    for _ in 0..RECHECKS {
        std::thread::sleep(RECHECK_EVERY);
        for dir in live.iter().filter(|dir| dir.exists()) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    live.clear();
    std::mem::forget(live);
    removed
}

/// The child processes alive now, each shared with the [`Spawned`] that owns it.
static CHILDREN: Mutex<Vec<Arc<Mutex<Child>>>> = Mutex::new(Vec::new());

/// A child process, killed (and waited for) when dropped or when the harness is interrupted.
pub struct Spawned {
    child: Arc<Mutex<Child>>,
}

impl Spawned {
    /// Starts `command` with the list locked, so no interrupt can come between the start and
    /// the listing.
    pub fn spawn(command: &mut Command) -> std::io::Result<Spawned> {
        let mut children = CHILDREN.lock();
        let child = Arc::new(Mutex::new(command.spawn()?));
        children.push(child.clone());
        Ok(Spawned { child })
    }

    /// The child's status if it has exited, as [`Child::try_wait`].
    pub fn try_wait(&self) -> std::io::Result<Option<ExitStatus>> {
        self.child.lock().try_wait()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Stopped with the list held, as `kill_all` stops it (the list, then the child): an
        // interrupt meanwhile waits, and never finds the child unlisted but still running.
        let mut children = CHILDREN.lock();
        if let Some(i) = children.iter().position(|c| Arc::ptr_eq(c, &self.child)) {
            children.swap_remove(i);
        }
        stop(&self.child);
        drop(children);
    }
}

/// Kills a child (it may have exited already) and reaps it.
fn stop(child: &Mutex<Child>) {
    let mut child = child.lock();
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills every child process alive now and waits for each to end; returns how many there were.
/// Called on an interrupt before [`remove_all`], so no server still writes into a directory
/// being removed. The list stays locked afterwards: the process is ending.
pub fn kill_all() -> usize {
    let mut children = CHILDREN.lock();
    for child in children.iter() {
        stop(child);
    }
    let killed = children.len();
    children.clear();
    std::mem::forget(children);
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_is_listed_while_it_lives_and_removed_when_dropped() {
        let scratch = Scratch::new("synclog-scratch-test-").expect("tempdir");
        let inner = Scratch::new_in("inner-", scratch.path()).expect("tempdir in");
        let (outer_path, inner_path) = (scratch.path().to_path_buf(), inner.path().to_path_buf());
        assert!(inner_path.starts_with(&outer_path));
        {
            let live = LIVE.lock();
            assert!(live.contains(&outer_path) && live.contains(&inner_path));
        }
        drop(inner);
        assert!(!inner_path.exists());
        assert!(!LIVE.lock().contains(&inner_path), "unlisted once dropped");
        drop(scratch);
        assert!(!outer_path.exists());
        assert!(!LIVE.lock().contains(&outer_path));
    }

    #[test]
    fn a_spawned_child_is_listed_while_it_lives_and_killed_when_dropped() {
        let spawned = Spawned::spawn(Command::new("sleep").arg("60")).expect("spawn sleep");
        let pid = spawned.child.lock().id();
        assert!(CHILDREN.lock().iter().any(|c| c.lock().id() == pid), "listed while it lives");
        assert_eq!(spawned.try_wait().expect("try_wait"), None, "still running");
        let child = spawned.child.clone();
        drop(spawned);
        assert!(!CHILDREN.lock().iter().any(|c| c.lock().id() == pid), "unlisted once dropped");
        // Killed and reaped: its status is known without waiting.
        let status = child.lock().try_wait().expect("try_wait").expect("the child has ended");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
}
