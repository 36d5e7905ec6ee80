//! Group commit: one `fdatasync` for every append waiting on it.
//!
//! Under `--fsync always` an append may be acknowledged only once its bytes are on disk. Syncing
//! after every append costs one `fdatasync` (about 100 µs on an SSD) per acknowledgement, and
//! appends would queue behind each other's syncs. Group commit takes the sync out of the
//! append: the append writes its records inside the strategy's write section as always, leaves
//! the section, and then *waits for durability*. The first waiter to find no sync in progress
//! becomes the leader: it issues one `fdatasync`, which covers every byte written before it
//! started, and raises the durable offset. Then it wakes, each directly, the waiters that sync
//! covered, and one of the others (all of whom need the next sync) to lead that one. So while
//! one sync runs, every append that lands meanwhile joins the next one: under load, one sync
//! acknowledges many messages (the harness reports messages per fsync).
//!
//! Why wake each waiter directly (`Thread::unpark`) rather than `notify_all` a condition
//! variable: a condition variable's waiters must each retake its mutex before they return, so
//! they leave one after another, each needing a context switch before the next may go — on a
//! busy 2-core machine that convoy delayed the later acknowledgements of every sync (measured:
//! about a tenth fewer acknowledgements per second one request at a time).
//!
//! No sync ever runs while a strategy lock is held: appends go on during a sync.
//!
//! Gathering. Appenders that send one request at a time come back a moment after their
//! acknowledgement, while the next sync is already running; they all miss it and wait for the
//! one after. Left alone, they split into two groups that take turns, each sync covering about
//! half of them. So a leader first waits for the appends the last sync left in play (its
//! leader and every waiter then) to be parked again, for at most [`GATHER_SYNCS`] times the
//! last sync's duration, and then syncs once for all of them (PostgreSQL's `commit_delay`,
//! with the wait ended early by the arrivals it waits for). It gathers only after a sync that
//! carried at most [`GATHER_MAX_BYTES`]: a sync's time grows with the bytes it carries, and
//! once they are many (a hundred requests in flight per producer) merging two syncs saves
//! little while the wait lengthens every round trip (measured here: a tenth fewer messages per
//! second with 100 in flight when every sync gathered). A gather that runs out of time
//! (an appender stopped, or is slow to come back) makes the next leader sync at once, so an
//! appender that does not come back costs at most every other sync a bounded wait. A single
//! appender never waits: the last sync left only itself in play.
//!
//! A failed `fdatasync` poisons the coordinator: its leader gets the error, and so does every
//! waiter it would have covered and every later wait. After a failed sync, Linux may have
//! dropped the dirty pages and cleared the error, so a retry that "succeeds" proves nothing
//! about the bytes written before it. An append that cannot be known durable is never
//! acknowledged; a restart (recovery reads what actually reached the file) clears the poison.
//! A leader whose sync *panics* (a panicking sync hook, say) poisons it too: a drop guard held
//! across the sync clears `syncing` and wakes every parked waiter during the unwind, so none
//! waits forever for a sync nobody is running; each returns the poison error.
//!
//! Invariants of [`GroupCommit`]'s state (under its own small mutex, which guards these counters
//! and the list of parked waiters only — never log data, and it is off the append path entirely
//! unless `always`):
//! - `started` counts syncs begun, `completed` the number of the last sync finished;
//! - `syncing` is true exactly while a leader is between its start and its finish;
//! - a sync numbered `k` started after every append that saw `started < k` had written its
//!   bytes, so an append that arrives when `started == s` is durable once `completed ≥ s + 1`;
//! - a parked waiter is on the list until the leader that settles it (or picks it to lead)
//!   takes it off; whenever a sync finishes with waiters left, one of them is woken to lead, so
//!   none sleeps with nobody syncing for it.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a leader may gather, in durations of the last sync.
pub const GATHER_SYNCS: u32 = 2;

/// A leader gathers only after a sync that carried at most this many bytes.
pub const GATHER_MAX_BYTES: u64 = 16 * 1024;

/// An append parked until a sync covers it (or it is picked to lead the next one).
struct Waiter {
    id: u64,
    needed: u64,
    thread: Thread,
}

#[derive(Default)]
struct State {
    /// Set by the first failed sync; every wait from then on fails.
    poisoned: bool,
    syncing: bool,
    started: u64,
    completed: u64,
    next_id: u64,
    /// Appends parked waiting for someone else's sync, oldest first.
    waiting: Vec<Waiter>,
    /// Appends in play when the last sync finished: its leader and every waiter then.
    appenders: usize,
    /// How long the last sync took.
    last_sync: Duration,
    /// Bytes appended by the waits registered since the last sync started.
    pending_bytes: u64,
    /// Bytes appended by the waits registered before the last sync started (what it carried).
    last_sync_bytes: u64,
    /// The leader while it gathers (see [`GroupCommit::gather`]), woken when enough arrived.
    gatherer: Option<Thread>,
    /// Set when the last gather ran out of time: the next leader does not gather.
    gather_missed: bool,
}

impl State {
    /// Whether the appends the last sync left in play are all back: parked, plus the leader.
    fn gathered(&self) -> bool {
        self.waiting.len() + 1 >= self.appenders
    }
}

/// The group-commit coordinator of one log.
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    /// A copy of `State::poisoned`, set under the mutex, read without it (on every append).
    poisoned: AtomicBool,
    /// Nanoseconds leaders have spent gathering, summed (for reports).
    gathered_ns: AtomicU64,
}

/// Held by the leader while its sync runs: if the sync panics, dropping the guard during the
/// unwind poisons the coordinator and wakes every waiter, who then return the poison error
/// instead of parking forever behind a `syncing` flag nobody will clear.
struct Leading<'a> {
    commit: &'a GroupCommit,
    armed: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.commit.state.lock();
            state.syncing = false;
            self.commit.poison_locked(&mut state);
        }
    }
}

impl GroupCommit {
    /// Returns once a sync that started after this call has completed, running that sync
    /// itself when no other is in progress. `sync` forces the file to disk; `poisoned` is the
    /// error of a wait that a failed sync (its own or an earlier one) leaves unproven.
    pub fn wait_durable<E>(
        &self,
        sync: impl Fn() -> Result<(), E>,
        poisoned: impl Fn() -> E,
    ) -> Result<(), E> {
        self.wait_durable_bytes(0, sync, poisoned)
    }

    /// [`wait_durable`](Self::wait_durable) for an append of `bytes` bytes: what a sync
    /// carries decides whether the next leader gathers.
    pub fn wait_durable_bytes<E>(
        &self,
        bytes: u64,
        sync: impl Fn() -> Result<(), E>,
        poisoned: impl Fn() -> E,
    ) -> Result<(), E> {
        let mut state = self.state.lock();
        state.pending_bytes += bytes;
        // A sync in progress may have started before our write: we need the next one.
        let needed = state.started + 1;
        loop {
            // Covered first: a failed sync never completes, so a sync that did covered this
            // append whatever failed after it.
            if state.completed >= needed {
                return Ok(());
            }
            if state.poisoned {
                return Err(poisoned());
            }
            if state.syncing {
                let id = state.next_id;
                state.next_id += 1;
                state.waiting.push(Waiter { id, needed, thread: thread::current() });
                if state.gathered() {
                    if let Some(gatherer) = &state.gatherer {
                        gatherer.unpark();
                    }
                }
                // Parked until the leader takes us off the list: covered, poisoned, or picked
                // to lead the next sync. Any other return from `park` is spurious.
                loop {
                    drop(state);
                    thread::park();
                    state = self.state.lock();
                    if !state.waiting.iter().any(|w| w.id == id) {
                        break;
                    }
                }
                continue;
            }
            // Lead: nobody is syncing. This sync starts after our write, so it covers it.
            state.syncing = true;
            state = self.gather(state);
            if state.poisoned {
                state.syncing = false;
                return Err(poisoned());
            }
            state.started += 1;
            state.last_sync_bytes = std::mem::take(&mut state.pending_bytes);
            let number = state.started;
            drop(state);
            let mut leading = Leading { commit: self, armed: true };
            let began = Instant::now();
            let result = sync();
            leading.armed = false;
            state = self.state.lock();
            state.syncing = false;
            state.last_sync = began.elapsed();
            state.appenders = 1 + state.waiting.len();
            match result {
                Ok(()) => state.completed = number,
                // Not completed: the waiters it covered wake, find the poison and fail too.
                Err(_) => {
                    state.poisoned = true;
                    self.poisoned.store(true, Ordering::Release);
                }
            }
            // Wake, each directly, everyone this sync settled; and one of the rest (who all
            // need the next sync) to lead it. The others stay parked.
            let (completed, poisoned_now) = (state.completed, state.poisoned);
            let mut wake = Vec::new();
            let mut leader_picked = false;
            state.waiting.retain(|w| {
                let settled = poisoned_now || w.needed <= completed;
                let lead = !settled && !leader_picked;
                leader_picked |= lead;
                if settled || lead {
                    wake.push(w.thread.clone());
                }
                !(settled || lead)
            });
            drop(state);
            for t in wake {
                t.unpark();
            }
            result?;
            state = self.state.lock();
        }
    }
}

impl GroupCommit {
    /// Before its sync starts, the leader waits for the appends the last sync left in play to
    /// be back (module docs, "Gathering"), for at most [`GATHER_SYNCS`] times the last sync's
    /// duration. Appends that arrive meanwhile park as waiters of this sync: `syncing` is
    /// already set and `started` not yet advanced, so the sync they need is this one.
    fn gather<'a>(
        &'a self,
        mut state: parking_lot::MutexGuard<'a, State>,
    ) -> parking_lot::MutexGuard<'a, State> {
        if std::mem::take(&mut state.gather_missed) {
            return state;
        }
        // Only while syncs carry little: then one more append rides a sync for nearly nothing,
        // and waiting for it saves a whole sync. A sync that carries much (pipelined producers)
        // takes time in proportion, merging two saves little, and the wait would lengthen
        // every round trip.
        if state.last_sync_bytes > GATHER_MAX_BYTES {
            return state;
        }
        if state.gathered() {
            return state; // nobody to wait for (and no wait to count)
        }
        let began = Instant::now();
        let deadline = began + state.last_sync * GATHER_SYNCS;
        state.gatherer = Some(thread::current());
        while !state.gathered() && !state.poisoned {
            let now = Instant::now();
            if now >= deadline {
                state.gather_missed = true;
                break;
            }
            drop(state);
            thread::park_timeout(deadline - now);
            state = self.state.lock();
        }
        state.gatherer = None;
        let waited = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.gathered_ns.fetch_add(waited, Ordering::Relaxed);
        state
    }

    /// The time leaders have spent gathering so far, summed.
    pub fn gathering(&self) -> Duration {
        Duration::from_nanos(self.gathered_ns.load(Ordering::Relaxed))
    }

    /// How many appends are parked waiting for another's sync right now.
    pub fn waiting(&self) -> usize {
        self.state.lock().waiting.len()
    }

    /// Whether a sync has failed: nothing appended from now on can be promised durable. One
    /// atomic load, no lock.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Marks the log as failed (any failed sync, the leader's or the interval syncer's, or a
    /// write under `Reserve` that can never be published): every wait from now on, and every
    /// parked one, fails.
    pub fn poison(&self) {
        let mut state = self.state.lock();
        self.poison_locked(&mut state);
    }

    /// Poisons and wakes every parked waiter (they find the poison and return its error).
    fn poison_locked(&self, state: &mut State) {
        state.poisoned = true;
        self.poisoned.store(true, Ordering::Release);
        for w in state.waiting.drain(..) {
            w.thread.unpark();
        }
        if let Some(gatherer) = &state.gatherer {
            gatherer.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::thread;

    #[test]
    fn concurrent_waiters_share_syncs_and_all_return() {
        let commit = GroupCommit::default();
        let syncs = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        commit
                            .wait_durable(
                                || {
                                    syncs.fetch_add(1, SeqCst);
                                    thread::sleep(std::time::Duration::from_micros(200));
                                    Ok::<(), ()>(())
                                },
                                || (),
                            )
                            .expect("sync");
                    }
                });
            }
        });
        let n = syncs.load(SeqCst);
        // Every wait saw at least one sync, and no wait ran more than one as leader.
        assert!((1..=400).contains(&n), "{n} syncs for 400 waits");
    }

    #[test]
    fn appends_that_arrive_during_a_sync_share_the_next_one() {
        // The leader's sync is held until seven more appends are waiting; they all arrived while
        // sync 1 ran, so sync 2 covers them all: eight appends, exactly two syncs.
        let commit = GroupCommit::default();
        let syncs = AtomicU64::new(0);
        // Whether the seven were waiting when sync 1 ended (else they need not share sync 2).
        let all_waiting = std::sync::atomic::AtomicBool::new(false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        thread::scope(|s| {
            s.spawn(|| {
                commit
                    .wait_durable(
                        || {
                            syncs.fetch_add(1, SeqCst);
                            while commit.waiting() < 7 && std::time::Instant::now() < deadline {
                                thread::yield_now();
                            }
                            all_waiting.store(commit.waiting() >= 7, SeqCst);
                            Ok::<(), ()>(())
                        },
                        || (),
                    )
                    .expect("sync 1");
            });
            // Start the others only once the leader is inside its sync.
            while syncs.load(SeqCst) == 0 && std::time::Instant::now() < deadline {
                thread::yield_now();
            }
            for _ in 0..7 {
                s.spawn(|| {
                    commit
                        .wait_durable(
                            || {
                                syncs.fetch_add(1, SeqCst);
                                Ok::<(), ()>(())
                            },
                            || (),
                        )
                        .expect("sync 2");
                });
            }
        });
        assert!(all_waiting.load(SeqCst), "the seven were waiting when sync 1 ended");
        assert_eq!(syncs.load(SeqCst), 2);
    }

    #[test]
    fn a_failed_sync_fails_its_leader_every_waiter_it_covered_and_every_later_wait() {
        // Sync 1 succeeds once three appends are parked behind it: they arrived while it ran,
        // so sync 2 covers them. Sync 1 carried more than GATHER_MAX_BYTES, so one of the three
        // leads sync 2 at once, with the other two parked as waiters it covers; sync 2 holds
        // until two later appends are parked too (they need sync 3), checks who it covers, and
        // fails. Its leader gets the device's error; the two waiters it covered and the two
        // later ones get the poison — none is told "durable", not even by a fresh sync that
        // would "succeed" after the failure (the kernel may have dropped the pages the failed one
        // missed) — and so does every wait after: the poison lasts until a restart.
        let commit = GroupCommit::default();
        let syncs = AtomicU64::new(0);
        let covered_by_sync_2 = std::sync::Mutex::new(None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let hold_until_parked = |n: usize| {
            while commit.waiting() < n && std::time::Instant::now() < deadline {
                thread::yield_now();
            }
        };
        // Every caller's sync: which one runs is decided by its number.
        let sync = || match syncs.fetch_add(1, SeqCst) + 1 {
            1 => {
                hold_until_parked(3);
                Ok(())
            }
            2 => {
                hold_until_parked(4);
                let state = commit.state.lock();
                let covered = state.waiting.iter().filter(|w| w.needed <= state.started).count();
                *covered_by_sync_2.lock().expect("no panic holds it") = Some((covered, state.waiting.len()));
                Err("EIO")
            }
            _ => Ok(()),
        };
        let wait = || commit.wait_durable(sync, || "poisoned");
        let (first, mut covered, later) = thread::scope(|s| {
            let first = s.spawn(|| commit.wait_durable_bytes(GATHER_MAX_BYTES + 1, sync, || "poisoned"));
            while syncs.load(SeqCst) < 1 && std::time::Instant::now() < deadline {
                thread::yield_now();
            }
            let covered: Vec<_> = (0..3).map(|_| s.spawn(wait)).collect();
            while syncs.load(SeqCst) < 2 && std::time::Instant::now() < deadline {
                thread::yield_now();
            }
            let later: Vec<_> = (0..2).map(|_| s.spawn(wait)).collect();
            let join = |hs: Vec<thread::ScopedJoinHandle<'_, Result<(), &'static str>>>| {
                hs.into_iter().map(|h| h.join().expect("no panic")).collect::<Vec<_>>()
            };
            (first.join().expect("no panic"), join(covered), join(later))
        });
        assert_eq!(
            *covered_by_sync_2.lock().expect("no panic holds it"),
            Some((2, 4)),
            "when sync 2 failed, two parked waiters were covered by it and two needed the next"
        );
        assert_eq!(first, Ok(()), "sync 1 succeeded: its leader alone is durable");
        covered.sort();
        assert_eq!(
            covered,
            vec![Err("EIO"), Err("poisoned"), Err("poisoned")],
            "sync 2's leader and its waiters"
        );
        assert_eq!(later, vec![Err("poisoned"); 2], "the waits after sync 2 started");
        // A later wait fails at once, without trusting a new sync.
        assert_eq!(commit.wait_durable(|| Ok(()), || "poisoned"), Err("poisoned"));
        assert_eq!(syncs.load(SeqCst), 2, "no sync ran after the failure");
    }

    #[test]
    fn a_leader_that_panics_in_its_sync_wakes_every_waiter_with_the_poison() {
        // The leader's sync panics once three more appends are parked behind it. Without the
        // drop guard `syncing` would stay set and the three would park forever (this test would
        // hang); with it, each returns the poison error, and so does every later wait.
        let commit = GroupCommit::default();
        let syncs = AtomicU64::new(0);
        // Whether the three were parked when the sync panicked (else they could have been
        // refused later, without ever waiting on it).
        let all_parked = std::sync::atomic::AtomicBool::new(false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let (leader, waiters) = thread::scope(|s| {
            let leader = s.spawn(|| {
                commit.wait_durable(
                    || -> Result<(), &str> {
                        syncs.fetch_add(1, SeqCst);
                        while commit.waiting() < 3 && std::time::Instant::now() < deadline {
                            thread::yield_now();
                        }
                        all_parked.store(commit.waiting() >= 3, SeqCst);
                        panic!("injected: the sync hook panicked")
                    },
                    || "poisoned",
                )
            });
            while syncs.load(SeqCst) == 0 && std::time::Instant::now() < deadline {
                thread::yield_now();
            }
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        commit.wait_durable(
                            || {
                                syncs.fetch_add(1, SeqCst);
                                Ok(())
                            },
                            || "poisoned",
                        )
                    })
                })
                .collect();
            let leader = leader.join().map_err(|_| "panicked");
            (
                leader,
                waiters.into_iter().map(|w| w.join().expect("a waiter never panics")).collect::<Vec<_>>(),
            )
        });
        assert_eq!(leader, Err("panicked"), "the panic reaches the leader's caller");
        assert!(all_parked.load(SeqCst), "the three were parked behind the sync when it panicked");
        assert_eq!(waiters, vec![Err("poisoned"); 3], "every waiter is woken with the error");
        assert!(commit.is_poisoned());
        assert_eq!(commit.wait_durable(|| Ok(()), || "poisoned"), Err("poisoned"));
        assert_eq!(syncs.load(SeqCst), 1, "no sync ran after the panic");
    }

    /// Runs the first sync of a test: a leader that holds its sync until `waiters` more appends
    /// are parked and `hold` has passed (so the next gather may last up to twice as long), then
    /// returns. The spawned waiters' syncs record `commit.waiting()` as they start.
    fn first_sync_with_waiters<'s>(
        s: &'s thread::Scope<'s, '_>,
        commit: &'s GroupCommit,
        (waiters, leader_bytes): (usize, u64),
        hold: std::time::Duration,
        parked_at_start: &'s std::sync::Mutex<Vec<usize>>,
    ) -> Vec<thread::ScopedJoinHandle<'s, Result<(), &'static str>>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let started = std::sync::Arc::new(AtomicU64::new(0));
        let leader_started = started.clone();
        let leader = s.spawn(move || {
            commit.wait_durable_bytes(
                leader_bytes,
                || {
                    leader_started.store(1, SeqCst);
                    let t0 = std::time::Instant::now();
                    while (commit.waiting() < waiters || t0.elapsed() < hold)
                        && std::time::Instant::now() < deadline
                    {
                        thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Ok(())
                },
                || "poisoned",
            )
        });
        while started.load(SeqCst) == 0 && std::time::Instant::now() < deadline {
            thread::yield_now();
        }
        let mut handles = vec![leader];
        for _ in 0..waiters {
            handles.push(s.spawn(move || {
                commit.wait_durable(
                    || {
                        parked_at_start.lock().expect("no panic holds it").push(commit.waiting());
                        Ok(())
                    },
                    || "poisoned",
                )
            }));
        }
        handles
    }

    /// Sync 1 leaves three appends in play: its leader (of `leader_bytes`) and two waiters, one
    /// of whom leads sync 2. The first leader comes back 50 ms after its acknowledgement, far
    /// inside the gather's bound (twice sync 1's 2 s: a margin no stall of a busy machine
    /// closes). Returns how many appends were parked behind the leader of each sync after the
    /// first, and the time spent gathering.
    fn first_leader_comes_back(leader_bytes: u64) -> (Vec<usize>, Duration) {
        let commit = GroupCommit::default();
        let parked_at_start = std::sync::Mutex::new(Vec::new());
        thread::scope(|s| {
            let hold = std::time::Duration::from_secs(2);
            let mut handles = first_sync_with_waiters(s, &commit, (2, leader_bytes), hold, &parked_at_start);
            let first = handles.remove(0).join().expect("no panic");
            assert_eq!(first, Ok(()));
            thread::sleep(std::time::Duration::from_millis(50));
            let again = commit.wait_durable(
                || {
                    parked_at_start.lock().expect("no panic holds it").push(commit.waiting());
                    Ok(())
                },
                || "poisoned",
            );
            assert_eq!(again, Ok(()));
            for h in handles {
                assert_eq!(h.join().expect("no panic"), Ok(()));
            }
        });
        (parked_at_start.into_inner().expect("no panic holds it"), commit.gathering())
    }

    #[test]
    fn the_next_leader_waits_for_the_appends_the_last_sync_left_in_play() {
        // Sync 2 waits for the first leader and covers all three. Without gathering, sync 2
        // would start with one append parked, and the first leader would need a sync of its own.
        let (parked, gathering) = first_leader_comes_back(100);
        assert_eq!(parked, vec![2], "one more sync, two appends parked behind its leader");
        assert!(gathering > Duration::ZERO, "the gather is counted");
    }

    #[test]
    fn after_a_sync_that_carried_many_bytes_the_next_leader_does_not_gather() {
        // The same, but sync 1 carried more than GATHER_MAX_BYTES: sync 2 starts at once with
        // the other waiter, and the first leader, back later, syncs alone.
        assert_eq!(first_leader_comes_back(GATHER_MAX_BYTES + 1).0, vec![1, 0]);
    }

    #[test]
    fn a_gather_that_runs_out_of_time_syncs_and_the_next_leader_does_not_gather() {
        // Sync 1's leader never comes back: sync 2's leader waits at most its bound, then syncs
        // for itself and the other waiter; the miss is remembered and cleared by the next sync.
        let commit = GroupCommit::default();
        let parked_at_start = std::sync::Mutex::new(Vec::new());
        thread::scope(|s| {
            let handles = first_sync_with_waiters(
                s,
                &commit,
                (2, 0),
                std::time::Duration::from_millis(20),
                &parked_at_start,
            );
            for h in handles {
                assert_eq!(h.join().expect("no panic"), Ok(()));
            }
        });
        assert_eq!(*parked_at_start.lock().expect("no panic holds it"), vec![1]);
        assert!(commit.state.lock().gather_missed, "the gather ran out of time");
        // It waited its whole bound: twice sync 1, which lasted at least its 20 ms hold.
        assert!(commit.gathering() >= Duration::from_millis(40), "{:?} gathering", commit.gathering());
        assert_eq!(commit.wait_durable(|| Ok::<(), &str>(()), || "poisoned"), Ok(()));
        assert!(!commit.state.lock().gather_missed, "one leader skipped gathering, and cleared the mark");
    }

    #[test]
    fn a_poison_while_a_leader_gathers_fails_it_and_its_waiters_at_once() {
        let commit = GroupCommit::default();
        let parked_at_start = std::sync::Mutex::new(Vec::new());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        thread::scope(|s| {
            // Sync 1 lasts about 1.5 s, so the gather would wait up to 3 s for its leader.
            let mut handles = first_sync_with_waiters(
                s,
                &commit,
                (2, 0),
                std::time::Duration::from_millis(1500),
                &parked_at_start,
            );
            while commit.state.lock().gatherer.is_none() && std::time::Instant::now() < deadline {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(handles.remove(0).join().expect("no panic"), Ok(()));
            commit.poison();
            let rest: Vec<_> = handles.into_iter().map(|h| h.join().expect("no panic")).collect();
            assert_eq!(rest, vec![Err("poisoned"); 2]);
        });
        assert!(
            parked_at_start.lock().expect("no panic holds it").is_empty(),
            "no sync ran after the poison"
        );
    }
}
