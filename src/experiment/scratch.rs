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
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long [`remove_all`] keeps at a directory that a thread still setting up fills again
/// while it is being removed, before it names the directory as not removed.
const KEEP_TRYING_FOR: Duration = Duration::from_secs(2);
/// How long after removing everything [`remove_all`] looks again, every [`RECHECK_EVERY`], for
/// a directory that such a thread made again after its removal.
const RECHECK_FOR: Duration = Duration::from_millis(100);
const RECHECK_EVERY: Duration = Duration::from_millis(5);

/// Removes every temporary directory alive now (outermost first, so a directory inside
/// another goes with it). Called on an interrupt, just before the process exits; whatever a
/// thread still writes into them meanwhile is lost with them. The list stays locked
/// afterwards: no directory can be made (or listed) after this, since the process is ending.
pub fn remove_all() -> Removed {
    let mut live = LIVE.lock();
    live.sort_by_key(|p| p.components().count());
    let removed = remove_while_refilled(&live);
    live.clear();
    std::mem::forget(live);
    removed
}

/// Removes `dirs`, in order, while other threads of the process may still be making files and
/// directories in them: the main thread opening a data dir when the interrupt came makes the
/// directory again (`create_dir_all`) or a topic's files inside it, between the removal of a
/// directory's entries and the removal of the directory itself, which then fails as not empty.
/// So a directory found not empty is removed again, 1 ms apart, for up to [`KEEP_TRYING_FOR`]
/// from the start; and once all are removed, each is looked for again for [`RECHECK_FOR`] and
/// removed again if it is back.
fn remove_while_refilled(dirs: &[PathBuf]) -> Removed {
    let give_up_at = Instant::now() + KEEP_TRYING_FOR;
    let mut removed = Removed { removed: 0, failed: Vec::new() };
    for dir in dirs {
        loop {
            match std::fs::remove_dir_all(dir) {
                // Not found: inside a directory removed before it.
                Ok(()) => break removed.removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => break removed.removed += 1,
                Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty && Instant::now() < give_up_at => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => break removed.failed.push((dir.clone(), e)),
            }
        }
    }
    let recheck_until = Instant::now() + RECHECK_FOR;
    while Instant::now() < recheck_until {
        std::thread::sleep(RECHECK_EVERY);
        for dir in dirs.iter().filter(|dir| dir.exists()) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
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

    /// A thread still setting up (here: making the directory again and a file in it, 500
    /// times) while the directory is removed: the removal keeps at it until the thread stops
    /// refilling it, and counts it removed rather than naming it as not empty.
    #[test]
    fn a_directory_refilled_while_it_is_removed_is_removed_all_the_same() {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        let started = Arc::new(std::sync::Barrier::new(2));
        let filler = std::thread::spawn({
            let (dir, started) = (dir.clone(), started.clone());
            move || {
                started.wait();
                let mut made = 0;
                for i in 0..500 {
                    let _ = std::fs::create_dir_all(&dir);
                    made += usize::from(std::fs::write(dir.join(format!("{i}.dat")), b"x").is_ok());
                }
                made
            }
        });
        started.wait();
        let removed = remove_while_refilled(std::slice::from_ref(&dir));
        let made = filler.join().expect("the filler");
        assert!(made > 0, "the filler made no file");
        let failed: Vec<String> =
            removed.failed.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect();
        assert_eq!((removed.removed, failed), (1, Vec::<String>::new()));
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
