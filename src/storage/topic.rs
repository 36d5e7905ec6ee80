//! Topics: named logs, one directory each under the data dir.
//!
//! A topic name becomes a directory name, so it is checked before it touches the file system:
//! 1–249 characters of `[A-Za-z0-9._-]`, and never `.` or `..` (Kafka's rule). A name that fails
//! is an [`LogError::InvalidTopic`], never a path: `../escape` cannot leave the data dir.
//!
//! [`Topics`] is the registry: it opens the topics already on disk at start-up, creates a topic
//! on its first produce, and hands out `Arc<Topic<S>>`. The registry's map has its own lock
//! (lookups share it; only inserting a created topic and removing a deleted one take it
//! exclusively, for that alone); it guards the map, never a log. Creating a topic (its directory, its two files and,
//! unless `--fsync never`, the syncs of their directory entries) runs under a second lock that
//! only creators take, so lookups, fetches and appends to the other topics carry on meanwhile.
//!
//! [`Topics::delete`] takes a topic out of the map, renames its directory out of the topics'
//! namespace (`@deleting-…`, a name no topic can have) and removes it, under the creators'
//! lock: a topic of the same name created afterwards starts empty in a fresh directory, and a
//! crash part-way leaves only an `@deleting-…` directory, which the next start removes. Whoever
//! still holds the deleted topic's `Arc` (an append or a fetch in flight) finishes on its open
//! files, and what it appends is gone with them.
//!
//! A [`Topic`] pairs a log with an [`AppendSignal`] on which long-polling fetches wait, so a
//! waiting consumer sleeps without touching the strategy's lock and wakes when an append lands;
//! a fetch waiting on several topics registers one [`Watch`] on each of their signals and sleeps
//! on it, woken by an append to any of them.

use super::durability::{FsyncPolicy, SyncHook, SyncPoint, SyncTotals};
use super::error::{IoContext, LogError};
use super::log::{Log, LogConfig, Recovery, INDEX_FILE, LOG_FILE};
use crate::strategies::SyncStrategy;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// The prefix of a deleted topic's directory until it is removed.
pub const DELETING_PREFIX: &str = "@deleting-";

/// The data dir's lock file: whoever has the data dir open holds an exclusive lock on it
/// (`flock`), so a second broker or harness on the same data dir is refused at start instead of
/// handing out offsets the first already handed out. No topic can have this name (`@`).
pub const LOCK_FILE: &str = "@lock";

/// The longest topic name (Kafka's limit).
pub const MAX_TOPIC_NAME_BYTES: usize = 249;

/// Checks a topic name: 1–249 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), LogError> {
    let reason = if name.is_empty() {
        "a topic name cannot be empty"
    } else if name.len() > MAX_TOPIC_NAME_BYTES {
        "a topic name is at most 249 characters"
    } else if name == "." || name == ".." {
        "'.' and '..' are not topic names"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        "a topic name may only contain letters, digits, '.', '_' and '-'"
    } else {
        return Ok(());
    };
    Err(LogError::InvalidTopic { name: name.chars().take(300).collect(), reason })
}

/// What opening a data dir found in one topic: its name and its recovery.
pub type TopicRecovery = (String, Recovery);

/// Wakes fetches waiting for a log to grow.
///
/// Invariant: `waiters` counts threads between "registered" and "done waiting". An appender
/// notifies only when it is above zero, so an append with no consumer waiting costs one atomic
/// load, not a futex call.
#[derive(Default)]
pub struct AppendSignal {
    waiters: AtomicUsize,
    /// The [`Watch`]es registered on this signal (waits on several topics at once); its mutex
    /// is also the one `grew` waits with.
    watches: Mutex<Vec<Arc<Watch>>>,
    grew: Condvar,
}

/// One wait on several topics at once: registered on each topic's [`AppendSignal`]
/// ([`AppendSignal::watch`]), woken by an append to any of them, so the waiter sleeps until
/// something it waits for may have grown instead of polling each topic in turn.
#[derive(Default)]
pub struct Watch {
    woken: Mutex<bool>,
    rang: Condvar,
}

impl Watch {
    /// Sleeps until an append to a watched topic since the last call, or `deadline`; returns
    /// whether an append woke it.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let mut woken = self.woken.lock();
        while !*woken {
            if self.rang.wait_until(&mut woken, deadline).timed_out() {
                break;
            }
        }
        std::mem::take(&mut *woken)
    }

    fn wake(&self) {
        *self.woken.lock() = true;
        self.rang.notify_one();
    }
}

impl AppendSignal {
    /// Called after an append (and its sync, if any) completed.
    pub fn notify(&self) {
        // The appender stored the new offset before calling this; the fence keeps that store
        // from being reordered after the load of `waiters` (a waiter increments `waiters`
        // before it checks the offset), so one of the two always sees the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this notify after a waiter's check of the condition.
            let watches = self.watches.lock();
            self.grew.notify_all();
            for watch in watches.iter() {
                watch.wake();
            }
        }
    }

    /// Waits registered on this signal now: long polls on this topic alone, and [`Watch`]es.
    pub fn waiting(&self) -> usize {
        self.waiters.load(Ordering::SeqCst)
    }

    /// Registers `watch`: every append from now on wakes it, until [`unwatch`](Self::unwatch).
    /// Check the condition waited for after this, before sleeping on the watch.
    pub fn watch(&self, watch: &Arc<Watch>) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        self.watches.lock().push(watch.clone());
    }

    /// Undoes one [`watch`](Self::watch) of `watch`.
    pub fn unwatch(&self, watch: &Arc<Watch>) {
        let mut watches = self.watches.lock();
        if let Some(i) = watches.iter().position(|w| Arc::ptr_eq(w, watch)) {
            watches.swap_remove(i);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits until `ready()` is true or `deadline` passes; returns `ready()`'s last value.
    pub fn wait_until(&self, deadline: Instant, mut ready: impl FnMut() -> bool) -> bool {
        if ready() {
            return true;
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.watches.lock();
        let result = loop {
            if ready() {
                break true;
            }
            if self.grew.wait_until(&mut guard, deadline).timed_out() {
                break ready();
            }
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// One topic: its name, its log and the signal its long polls wait on.
pub struct Topic<S: SyncStrategy> {
    pub name: String,
    pub log: Log<S>,
    pub appended: AppendSignal,
    /// Set (SeqCst) by [`Topics::delete`] before it wakes the topic's waiters.
    deleted: AtomicBool,
}

impl<S: SyncStrategy> Topic<S> {
    fn new(name: String, log: Log<S>) -> Topic<S> {
        Topic { name, log, appended: AppendSignal::default(), deleted: AtomicBool::new(false) }
    }

    /// Whether [`Topics::delete`] deleted it: a wait on it ends, so that whoever holds it lets
    /// its files (deleted, still open) go.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::SeqCst)
    }

    /// Appends a batch and wakes waiting fetches.
    pub fn append_batch<P: AsRef<[u8]>>(&self, payloads: &[P]) -> Result<u64, LogError> {
        let base = self.log.append_batch(payloads)?;
        self.appended.notify();
        Ok(base)
    }

    /// Waits until the high watermark is above `offset`, the topic is deleted, or `deadline`
    /// passes.
    pub fn wait_for(&self, offset: u64, deadline: Instant) -> bool {
        self.appended.wait_until(deadline, || self.log.high_watermark() > offset || self.is_deleted())
    }
}

/// Locks `data_dir`'s [`LOCK_FILE`] (creating it), or says who holds it.
fn lock_data_dir(data_dir: &Path) -> Result<fs::File, LogError> {
    let path = data_dir.join(LOCK_FILE);
    let file = fs::File::options().create(true).truncate(false).write(true).open(&path).at(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LogError::DataDirInUse { lock: path }),
        Err(fs::TryLockError::Error(e)) => Err(LogError::io(path, e)),
    }
}

/// Every name synclog gives a file in a topic directory (docs/format.md): the log, its index,
/// Kafka idempotent producers' state and its temporary rewrite, and the harness's run file. A
/// directory holding none of them (and not empty) is not a topic.
pub const TOPIC_FILES: [&str; 5] = [LOG_FILE, INDEX_FILE, "producers.dat", "producers.tmp", "run.json"];

/// Whether a directory named like a topic is one: it holds one of the files named in
/// [`TOPIC_FILES`], or nothing at all (a creation a crash cut short). Other files beside a
/// topic's own (an editor's backup, a file system's leftovers) do not stop it being one; a
/// directory of other files alone is someone else's.
fn is_topic_dir(dir: &Path) -> Result<bool, LogError> {
    let mut empty = true;
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        if entry.file_name().to_str().is_some_and(|name| TOPIC_FILES.contains(&name)) {
            return Ok(true);
        }
        empty = false;
    }
    Ok(empty)
}

/// The registry of topics under one data dir, all with the same strategy and configuration.
pub struct Topics<S: SyncStrategy> {
    data_dir: PathBuf,
    config: LogConfig,
    topics: RwLock<BTreeMap<String, Arc<Topic<S>>>>,
    /// The data dir's [`LOCK_FILE`], locked for as long as the registry lives (the kernel lets
    /// go of it when the process ends, however it ends).
    _lock: fs::File,
    /// Held by whoever is creating a topic, across its file-system work: one creation at a
    /// time, without holding up lookups.
    creating: Mutex<()>,
    stop_syncer: Arc<AtomicBool>,
    /// Topics deleted by this registry: numbers their `@deleting-` directories.
    deleted: AtomicU64,
}

impl<S: SyncStrategy> Topics<S> {
    /// Opens the data dir (creating it if missing) and every topic directory in it. Returns the
    /// recovery report of each topic that was opened. Under `FsyncPolicy::Interval` a syncer
    /// thread starts; it ends when the registry is dropped.
    pub fn open(
        data_dir: &Path,
        mut config: LogConfig,
    ) -> Result<(Arc<Topics<S>>, Vec<TopicRecovery>), LogError> {
        if config.fsync != FsyncPolicy::Never {
            config.sync_hook = env_test_hooks(config.sync_hook.take());
        }
        if data_dir.exists() && !data_dir.is_dir() {
            let e =
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "it exists and is not a directory");
            return Err(LogError::io(data_dir, e));
        }
        fs::create_dir_all(data_dir).at(data_dir)?;
        let lock = lock_data_dir(data_dir)?;
        let mut map = BTreeMap::new();
        let mut recoveries = Vec::new();
        for entry in fs::read_dir(data_dir).at(data_dir)? {
            let entry = entry.at(data_dir)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if name.starts_with(DELETING_PREFIX) {
                // A deletion a crash cut short: the topic was already out of the namespace.
                fs::remove_dir_all(entry.path()).at(&entry.path())?;
                continue;
            }
            if !entry.file_type().at(&entry.path())?.is_dir() || validate_topic_name(&name).is_err() {
                continue;
            }
            if !is_topic_dir(&entry.path())? {
                return Err(LogError::NotATopicDir { path: entry.path() });
            }
            let (log, recovery) = Log::open(&entry.path(), config.clone())?;
            recoveries.push((name.clone(), recovery));
            map.insert(name.clone(), Arc::new(Topic::new(name, log)));
        }
        let topics = Arc::new(Topics {
            data_dir: data_dir.to_path_buf(),
            config,
            topics: RwLock::new(map),
            _lock: lock,
            creating: Mutex::new(()),
            stop_syncer: Arc::new(AtomicBool::new(false)),
            deleted: AtomicU64::new(0),
        });
        if let FsyncPolicy::Interval(every) = topics.config.fsync {
            spawn_syncer(Arc::downgrade(&topics), every, topics.stop_syncer.clone());
        }
        Ok((topics, recoveries))
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The configuration every log is opened with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The topic named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Topic<S>>> {
        self.topics.read().get(name).cloned()
    }

    /// The topic named `name`, created (directory, files) if missing.
    pub fn get_or_create(&self, name: &str) -> Result<Arc<Topic<S>>, LogError> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        validate_topic_name(name)?;
        let _creating = self.creating.lock();
        // Another thread may have created it between the two lookups.
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        let dir = self.data_dir.join(name);
        if fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
            // Open passed it over (only directories are topics); creating the topic would fail
            // on it with "File exists", which names neither the file nor what to do.
            let what = "something other than a directory has this topic's name in the data dir: move it away to use the topic";
            return Err(LogError::io(&dir, std::io::Error::new(std::io::ErrorKind::AlreadyExists, what)));
        }
        let (log, _recovery) = Log::open(&dir, self.config.clone())?;
        if self.config.fsync != FsyncPolicy::Never {
            // A new topic's files are durable only once their directory entries are: sync the
            // topic directory (its two files) and the data dir (the topic directory itself).
            for d in [&dir, &self.data_dir] {
                fs::File::open(d).and_then(|f| f.sync_all()).at(d)?;
            }
        }
        let topic = Arc::new(Topic::new(name.to_string(), log));
        #[cfg(test)]
        tests::created();
        // Only creators insert, and they hold `creating`: the name is still free.
        self.topics.write().insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    /// Deletes the topic named `name` (see the module docs); false when there is none. When
    /// its directory cannot be renamed the topic stays, and the error says why.
    pub fn delete(&self, name: &str) -> Result<bool, LogError> {
        let _creating = self.creating.lock();
        let Some(topic) = self.topics.write().remove(name) else { return Ok(false) };
        let dir = self.data_dir.join(name);
        let n = self.deleted.fetch_add(1, Ordering::Relaxed);
        let doomed = self.data_dir.join(format!("{DELETING_PREFIX}{}-{n}", std::process::id()));
        if let Err(e) = fs::rename(&dir, &doomed).at(&dir) {
            self.topics.write().insert(name.to_owned(), topic);
            return Err(e);
        }
        if self.config.fsync != FsyncPolicy::Never {
            fs::File::open(&self.data_dir).and_then(|f| f.sync_all()).at(&self.data_dir)?;
        }
        if let Err(e) = fs::remove_dir_all(&doomed) {
            eprintln!(
                "synclog: topic {name} deleted, but {} is left (removed at the next start): {e}",
                doomed.display()
            );
        }
        // Fetches waiting on it stop waiting, and let its open files go.
        topic.deleted.store(true, Ordering::SeqCst);
        topic.appended.notify();
        Ok(true)
    }

    /// Every topic, by name.
    pub fn all(&self) -> Vec<Arc<Topic<S>>> {
        self.topics.read().values().cloned().collect()
    }

    /// Every topic's name and high watermark (the offset below which records are served, and
    /// so a fetch from it waits for new ones: the next offset once every append in flight is
    /// acknowledged), by name.
    pub fn list(&self) -> Vec<(String, u64)> {
        self.topics.read().iter().map(|(n, t)| (n.clone(), t.log.high_watermark())).collect()
    }

    /// Syncs performed over all logs, and what they took (summed: two logs' syncs may overlap).
    pub fn sync_totals(&self) -> SyncTotals {
        self.topics.read().values().map(|t| t.log.sync_totals()).sum()
    }

    /// Syncs every log to disk, attempting every one even when some fail (a failed sync
    /// poisons that topic's log only); returns the first error.
    pub fn sync_all(&self) -> Result<(), LogError> {
        let mut first = None;
        for t in self.all() {
            if let Err(e) = t.log.sync_data() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl<S: SyncStrategy> Drop for Topics<S> {
    fn drop(&mut self) {
        self.stop_syncer.store(true, Ordering::Release);
    }
}

/// The name of the `FsyncPolicy::Interval` syncer's thread.
const SYNCER_THREAD: &str = "synclog-syncer";

/// Test hooks, read from the environment when a registry opens under `FsyncPolicy::Interval` or
/// `Always`, so that the crash tests can drive a `broker` child process into the moments they
/// check. Unset (as they always are outside those tests), nothing changes.
///
/// `SYNCLOG_TEST_HOLD_INTERVAL_SYNC=N` holds the interval syncer inside its first sync of a log
/// that covers the records below `N` or more, after it chose what the sync covers and before
/// its `fdatasync`: it writes one line to stderr (`… held inside its sync of PATH, covering
/// offsets below C`) and never leaves that sync; appends and acknowledgements go on, so that a
/// SIGKILL then lands, for certain, during a sync.
pub const HOLD_INTERVAL_SYNC_ENV: &str = "SYNCLOG_TEST_HOLD_INTERVAL_SYNC";

/// `SYNCLOG_TEST_FAIL_SYNC=TOPIC:N`: every sync of topic `TOPIC`'s log that covers the records
/// below `N` or more (the interval syncer's, or a group-commit leader's under `always`) fails,
/// as a failing device would make it: the log is poisoned and cut back, as for a real failed
/// `fdatasync`. Other topics' syncs, and that topic's syncs of fewer records, are untouched.
pub const FAIL_SYNC_ENV: &str = "SYNCLOG_TEST_FAIL_SYNC";

/// `previous`, followed by the test hooks the environment asks for (see
/// [`HOLD_INTERVAL_SYNC_ENV`], [`FAIL_SYNC_ENV`]); `previous` alone when it asks none.
fn env_test_hooks(previous: Option<SyncHook>) -> Option<SyncHook> {
    let hold = std::env::var(HOLD_INTERVAL_SYNC_ENV).ok().and_then(|v| v.parse::<u64>().ok());
    let fail = std::env::var(FAIL_SYNC_ENV).ok().and_then(|v| {
        let (topic, n) = v.rsplit_once(':')?;
        Some((topic.to_string(), n.parse::<u64>().ok()?))
    });
    if hold.is_none() && fail.is_none() {
        return previous;
    }
    let held = AtomicBool::new(false);
    Some(SyncHook(Arc::new(move |path, point| {
        if let Some(SyncHook(hook)) = &previous {
            hook(path, point)?;
        }
        let SyncPoint::Start { covered } = point else { return Ok(()) };
        if let Some((topic, n)) = &fail {
            let of_topic = path.parent().and_then(Path::file_name).is_some_and(|t| t == topic.as_str());
            if of_topic && covered >= *n {
                return Err(std::io::Error::other(format!("injected by {FAIL_SYNC_ENV}: the disk failed")));
            }
        }
        let on_syncer = thread::current().name() == Some(SYNCER_THREAD);
        if on_syncer && hold.is_some_and(|n| covered >= n) && !held.swap(true, Ordering::AcqRel) {
            let line = format!(
                "synclog: test hook {HOLD_INTERVAL_SYNC_ENV}: the interval syncer is held inside its sync of {}, covering offsets below {covered}\n",
                path.display()
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            loop {
                thread::park();
            }
        }
        Ok(())
    })))
}

/// The `FsyncPolicy::Interval` syncer: every `every`, sync each log. Holds only a weak
/// reference, so it never keeps the registry alive.
fn spawn_syncer<S: SyncStrategy>(topics: Weak<Topics<S>>, every: Duration, stop: Arc<AtomicBool>) {
    let spawned = thread::Builder::new().name(SYNCER_THREAD.into()).spawn(move || {
        // Sleep in short steps so a dropped registry ends the thread promptly.
        let step = every.min(Duration::from_millis(50));
        let mut next = Instant::now() + every;
        while !stop.load(Ordering::Acquire) {
            thread::sleep(step);
            if Instant::now() < next {
                continue;
            }
            next += every;
            let Some(topics) = topics.upgrade() else { break };
            // Every topic is attempted; a failed sync poisons that topic's log (it refuses
            // appends, as under `always`) and is reported once; the others go on.
            for t in topics.all() {
                if t.log.sync_failed() {
                    continue;
                }
                if let Err(e) = t.log.sync_data() {
                    eprintln!(
                        "synclog: interval fsync of topic {} failed, its log now refuses appends: {e}",
                        t.name
                    );
                }
            }
        }
    });
    if let Err(e) = spawned {
        eprintln!("synclog: could not start the fsync syncer thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::RwLockSync;
    use std::cell::RefCell;
    use std::sync::mpsc;

    thread_local! {
        /// Set on a creating thread: run once, after the new topic's files are made and before
        /// it is inserted in the map.
        static WHILE_CREATING: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
    }

    /// Called by `get_or_create` between a topic's file-system work and its insertion.
    pub(super) fn created() {
        if let Some(hook) = WHILE_CREATING.with(|h| h.borrow_mut().take()) {
            hook();
        }
    }

    #[test]
    fn a_data_dir_is_open_in_one_registry_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        first.get_or_create("orders").expect("create");
        match Topics::<RwLockSync>::open(dir.path(), LogConfig::default()) {
            Err(LogError::DataDirInUse { lock }) => assert_eq!(lock, dir.path().join(LOCK_FILE)),
            Err(e) => panic!("expected DataDirInUse, got {e}"),
            Ok(_) => panic!("a second registry opened a data dir in use"),
        }
        assert_eq!(first.get("orders").expect("still there").log.append(b"x").expect("append"), 0);
        drop(first);
        let (again, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
        assert_eq!(again.get("orders").expect("reopened").log.next_offset(), 1);
    }

    #[test]
    fn a_file_with_a_topics_name_is_named_when_the_topic_is_asked_for_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("t"), b"mine").expect("write");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        let error = topics.get_or_create("t").map(|_| ()).expect_err("a file is no topic");
        let text = format!(
            "{error}: {}",
            std::error::Error::source(&error).map(|s| s.to_string()).unwrap_or_default()
        );
        assert!(text.contains("something other than a directory has this topic's name"), "{text}");
        assert_eq!(fs::read(dir.path().join("t")).expect("read"), b"mine", "left as it was");
    }

    #[test]
    fn a_directory_that_is_no_topic_stops_the_open_and_nothing_is_written_into_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = dir.path().join("project");
        fs::create_dir_all(project.join("src")).expect("mkdir");
        fs::write(project.join("notes.txt"), b"mine").expect("write");
        // An empty directory is a topic whose creation was cut short, and a harness writes its
        // run file before the topic's files: both are opened as topics.
        fs::create_dir(dir.path().join("cut-short")).expect("mkdir");
        fs::create_dir(dir.path().join("run-1")).expect("mkdir");
        fs::write(dir.path().join("run-1").join(crate::check::runfile::RUN_FILE), b"{}").expect("write");
        // Every file the project writes in a topic directory is one a topic may hold.
        for ours in [crate::broker::producer_file::PRODUCERS_FILE, crate::check::runfile::RUN_FILE] {
            assert!(TOPIC_FILES.contains(&ours), "{ours}");
        }
        assert!(TOPIC_FILES.contains(&"producers.tmp"), "the producers file's temporary rewrite");
        match Topics::<RwLockSync>::open(dir.path(), LogConfig::default()) {
            Err(LogError::NotATopicDir { path }) => assert_eq!(path, project),
            Err(e) => panic!("expected NotATopicDir, got {e}"),
            Ok(_) => panic!("a directory of someone else's files was taken for a topic"),
        }
        let mut left: Vec<_> =
            fs::read_dir(&project).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        left.sort();
        assert_eq!(left, ["notes.txt", "src"], "nothing was written into it");
        fs::remove_dir_all(&project).expect("rm");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        assert_eq!(topics.get("cut-short").expect("opened").log.next_offset(), 0);
        assert_eq!(topics.get("run-1").expect("opened").log.next_offset(), 0);
        drop(topics);
        // A directory of files alone, none of them a topic's, is no topic either.
        fs::create_dir(dir.path().join("papers")).expect("mkdir");
        fs::write(dir.path().join("papers").join("thesis.pdf"), b"%PDF").expect("write");
        assert!(matches!(
            Topics::<RwLockSync>::open(dir.path(), LogConfig::default()),
            Err(LogError::NotATopicDir { .. })
        ));
        assert!(!dir.path().join("papers").join(LOG_FILE).exists());
        fs::remove_dir_all(dir.path().join("papers")).expect("rm");
        // Another file beside a topic's own (a file system's leftover) leaves it a topic.
        fs::write(dir.path().join("run-1").join(".nfs0000000000001"), b"").expect("write");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
        assert!(topics.get("run-1").is_some());
        drop(topics);
        // A data dir that is a file is named as such.
        let file = dir.path().join("a-file");
        fs::write(&file, b"x").expect("write");
        let e = Topics::<RwLockSync>::open(&file, LogConfig::default()).err().expect("not a directory");
        assert!(crate::broker::handler::chain(&e).contains("is not a directory"), "{e}");
    }

    #[test]
    fn creating_a_topic_holds_up_neither_lookups_nor_appends_to_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        topics.get_or_create("old").expect("create");
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        // While "new" is being created, another thread looks "old" up, appends to it, lists and
        // looks "new" up. Were the map's lock held across the creation, it could not, and the
        // creating thread would give up waiting for it.
        let other = {
            let topics = topics.clone();
            thread::spawn(move || {
                if go_rx.recv().is_err() {
                    return;
                }
                let old = topics.get("old").expect("the old topic is found");
                old.append_batch(&[b"x"]).expect("append");
                let _ = done_tx.send((topics.list(), topics.get("new").is_some()));
            })
        };
        let hook = move || {
            go_tx.send(()).expect("the other thread waits");
            let (listed, new_seen) = done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the lookups finished during the creation");
            assert_eq!(
                listed,
                vec![("old".to_string(), 1)],
                "the new topic is not listed before it is whole"
            );
            assert!(!new_seen);
        };
        WHILE_CREATING.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
        topics.get_or_create("new").expect("create");
        other.join().expect("the other thread");
        assert_eq!(topics.list(), vec![("new".to_string(), 0), ("old".to_string(), 1)]);
    }

    #[test]
    fn topic_names_follow_kafkas_rule() {
        for ok in ["a", "run-1_x.y", &"z".repeat(249)] {
            assert!(validate_topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../escape", "a/b", "a b", "ü", &"z".repeat(250), "a\0b"] {
            assert!(matches!(validate_topic_name(bad), Err(LogError::InvalidTopic { .. })), "{bad:?}");
        }
    }

    #[test]
    fn topics_are_created_on_first_use_and_reopened_with_their_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (topics, rec) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
            assert!(rec.is_empty());
            assert!(topics.get("t1").is_none());
            let t = topics.get_or_create("t1").expect("create");
            t.append_batch(&[b"a".as_slice(), b"b"]).expect("append");
            topics.get_or_create("t2").expect("create");
            assert!(topics.get_or_create("../escape").is_err());
            assert_eq!(topics.list(), vec![("t1".to_string(), 2), ("t2".to_string(), 0)]);
        }
        assert!(!dir.path().parent().expect("parent").join("escape").exists());
        let (topics, rec) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
        assert_eq!(rec.len(), 2);
        assert_eq!(topics.list(), vec![("t1".to_string(), 2), ("t2".to_string(), 0)]);
    }

    #[test]
    fn a_waiting_fetch_wakes_when_an_append_lands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        let t = topics.get_or_create("t").expect("create");
        let woke = thread::scope(|s| {
            let waiter = s.spawn(|| t.wait_for(0, Instant::now() + Duration::from_secs(10)));
            // Wait (bounded) until the waiter is registered, then append.
            for _ in 0..1000 {
                if t.appended.waiters.load(Ordering::SeqCst) > 0 {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            t.append_batch(&[b"x"]).expect("append");
            waiter.join().expect("join")
        });
        assert!(woke);
        // Nothing more arrives: a wait for offset 1 times out with false.
        assert!(!t.wait_for(1, Instant::now() + Duration::from_millis(20)));
    }

    #[test]
    fn a_deleted_topic_leaves_no_directory_and_comes_back_empty_and_a_cut_short_deletion_is_cleaned_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("open");
        let old = topics.get_or_create("t").expect("create");
        old.append_batch(&[b"old"]).expect("append");
        assert!(topics.delete("t").expect("delete"));
        assert!(!topics.delete("t").expect("delete again"), "nothing left to delete");
        assert!(topics.get("t").is_none() && !dir.path().join("t").exists());
        // Whoever still holds the old topic appends to its unlinked files, not the new topic's.
        old.append_batch(&[b"late"]).expect("append to the deleted topic");
        let new = topics.get_or_create("t").expect("create again");
        assert_eq!(new.log.next_offset(), 0);
        // A deletion cut short by a crash, after its rename: gone at the next start.
        let doomed = dir.path().join(format!("{DELETING_PREFIX}1-0"));
        fs::create_dir_all(&doomed).expect("dir");
        fs::write(doomed.join("log.dat"), b"bytes").expect("file");
        drop((topics, old, new));
        let (topics, _) = Topics::<RwLockSync>::open(dir.path(), LogConfig::default()).expect("reopen");
        assert!(!doomed.exists());
        assert_eq!(topics.list(), [("t".to_string(), 0)]);
    }
}
