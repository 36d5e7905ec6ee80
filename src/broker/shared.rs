//! What both listeners' connection handlers share, and the serving steps they have in common:
//! the topic registry handle with the configuration and the counters that enforce the
//! connection and topic caps ([`Shared`]), and the long-poll wait on topics' append signals.
//! (The fetch byte budget is [`BrokerConfig::fetch_budget`].)
//!
//! The accept loops ([`super`]) build one [`Shared`] and hand it to every handler, synclog
//! ([`super::handler`]) or Kafka ([`super::kafka`]); the handlers import this module and
//! nothing above it.

use super::config::BrokerConfig;
use super::groups::Groups;
use super::idempotence::Producers;
use crate::protocol::connection::BufferBudget;
use crate::storage::{validate_topic_name, LogError, Topic, Topics, Watch};
use crate::strategies::SyncStrategy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::error::Error;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the connections share.
pub(crate) struct Shared<S: SyncStrategy> {
    pub(crate) topics: Arc<Topics<S>>,
    pub(crate) config: BrokerConfig,
    /// The Kafka listener's consumer groups and their committed offsets.
    pub(crate) groups: Groups,
    /// The Kafka listener's idempotent producers.
    pub(crate) producers: Producers,
    /// The Kafka listener's bound address (the real port when 0 was asked for), which its
    /// Metadata responses advertise; `None` without a Kafka listener.
    pub(crate) kafka_addr: Option<SocketAddr>,
    /// Set once by `shutdown`; checked by the accept loop and by long polls.
    pub(crate) stopping: AtomicBool,
    /// Open connections, for `max_connections`: reserved by the accept loop with
    /// compare-exchange ([`Shared::try_admit`]), released by the handler thread's guard (even
    /// when it panics).
    pub(crate) connections: AtomicUsize,
    /// The connection cap in force: `--max-connections`, or fewer when the descriptor limit
    /// cannot hold it (see [`super::limits`]).
    pub(crate) max_connections: usize,
    /// Open topics, for `max_topics`: reserved with compare-exchange before one is created.
    pub(crate) topic_count: AtomicUsize,
    /// The topic cap in force: `--max-topics`, or derived from the descriptor limit.
    pub(crate) max_topics: usize,
    /// Held while a missing topic is created, so that two requests creating the same topic
    /// reserve one slot, not two.
    pub(super) creating: Mutex<()>,
    /// The read-buffer budget every connection of both listeners grows from
    /// (`--max-buffered-bytes`).
    pub(crate) buffers: Arc<BufferBudget>,
    /// A clone of every open socket, so `shutdown` can wake blocked handlers.
    pub(super) sockets: Mutex<HashMap<u64, TcpStream>>,
    pub(super) next_id: AtomicU64,
}

/// Why a topic could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TopicError {
    /// Creating it would pass `--max-topics`.
    #[error(
        "the broker already holds its maximum of {max} {} (--max-topics); produce to an existing topic",
        if *max == 1 { "topic" } else { "topics" }
    )]
    Limit { max: usize },
    /// The name, the files, or the directory failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl<S: SyncStrategy> Shared<S> {
    /// Reserves a connection slot if one is free (compare-exchange: two accept loops can never
    /// both take the last one). The caller releases it with [`Shared::release_connection`].
    pub(crate) fn try_admit(&self) -> bool {
        reserve(&self.connections, self.max_connections)
    }

    /// Gives back a slot [`Shared::try_admit`] reserved.
    pub(crate) fn release_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// The topic named `name`, created when missing if a topic slot is free.
    pub(crate) fn topic_or_create(&self, name: &str) -> Result<Arc<Topic<S>>, TopicError> {
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        validate_topic_name(name)?;
        let _creating = self.creating.lock();
        if let Some(t) = self.topics.get(name) {
            return Ok(t);
        }
        if !reserve(&self.topic_count, self.max_topics) {
            return Err(TopicError::Limit { max: self.max_topics });
        }
        self.topics.get_or_create(name).map_err(|e| {
            self.topic_count.fetch_sub(1, Ordering::AcqRel);
            TopicError::Log(e)
        })
    }

    /// Deletes the topic named `name`, its files and its idempotent producers' state, and gives
    /// its slot under `--max-topics` back; false when there is none.
    pub(crate) fn delete_topic(&self, name: &str) -> Result<bool, LogError> {
        let _creating = self.creating.lock();
        if !self.topics.delete(name)? {
            return Ok(false);
        }
        self.topic_count.fetch_sub(1, Ordering::AcqRel);
        self.producers.forget_topic(name);
        Ok(true)
    }
}

/// Takes one unit of `counter` if it is below `max`, atomically.
fn reserve(counter: &AtomicUsize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            // The race point of the unit tests: where two reservations may both have loaded `n`.
            #[cfg(test)]
            tests::loaded();
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

/// The longest long poll the broker grants, whatever `max_wait_ms` asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How often a long poll looks at `stopping` while nothing is appended, so shutdown never
/// waits for one.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// Waits until one of the `waiting` topics' high watermark passes its offset or it is deleted, the deadline
/// passes, or the broker stops. One topic: waits on its signal. Several: registers one
/// [`Watch`] on each topic's signal and sleeps on it, so an append to any of them wakes it and
/// nothing else does but the slices of [`POLL_SLICE`]. Holds no lock while it waits; returns the
/// number of times it slept (for the tests).
pub(super) fn long_poll<S: SyncStrategy>(
    shared: &Shared<S>,
    waiting: &[(&Topic<S>, u64)],
    deadline: Instant,
) -> usize {
    let Some((first, first_offset)) = waiting.first() else { return 0 };
    let done = || {
        waiting.iter().any(|(t, offset)| t.log.high_watermark() > *offset || t.is_deleted())
            || Instant::now() >= deadline
            || shared.stopping.load(Ordering::Acquire)
    };
    let mut sleeps = 0;
    if waiting.len() == 1 {
        while !done() {
            first.wait_for(*first_offset, (Instant::now() + POLL_SLICE).min(deadline));
            sleeps += 1;
        }
        return sleeps;
    }
    let watch = Arc::new(Watch::default());
    for (t, _) in waiting {
        t.appended.watch(&watch);
    }
    // Checked after registering: an append from here on wakes the watch.
    while !done() {
        watch.wait_until((Instant::now() + POLL_SLICE).min(deadline));
        sleeps += 1;
    }
    for (t, _) in waiting {
        t.appended.unwatch(&watch);
    }
    sleeps
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{LogConfig, Rendezvous};
    use crate::strategies::RwLockSync;
    use std::cell::RefCell;
    use std::sync::Barrier;
    use std::thread;

    thread_local! {
        /// Set on a racing thread: its next reservation waits here, once, right after loading
        /// the counter, until the other racers have loaded it too.
        static MEET: RefCell<Option<Arc<Rendezvous>>> = const { RefCell::new(None) };
    }

    /// Called by `reserve` after each load of the counter.
    pub(super) fn loaded() {
        if let Some(meet) = MEET.with(|m| m.borrow_mut().take()) {
            assert!(meet.arrive(), "every racer loaded the counter");
        }
    }

    /// A broker's shared state over an empty data dir, with these caps.
    fn shared(dir: &std::path::Path, max_connections: usize, max_topics: usize) -> Shared<RwLockSync> {
        let (topics, _) = Topics::open(dir, LogConfig::default()).expect("open the data dir");
        Shared {
            topics,
            config: BrokerConfig { data_dir: dir.to_path_buf(), ..BrokerConfig::default() },
            groups: Groups::open(dir, crate::broker::groups::DEFAULT_OFFSETS_RETENTION).expect("groups"),
            producers: Producers::in_memory(),
            kafka_addr: None,
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            max_connections,
            topic_count: AtomicUsize::new(0),
            max_topics,
            creating: Mutex::new(()),
            buffers: Arc::new(BufferBudget::new(usize::MAX)),
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_long_poll_on_several_idle_topics_sleeps_in_slices_and_wakes_on_an_append_to_any() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path(), 4, 4);
        let a = shared.topic_or_create("a").expect("a");
        let b = shared.topic_or_create("b").expect("b");
        // Idle: a poll of 0.45 s sleeps in slices of 100 ms (five), not every 10 ms (45).
        let started = Instant::now();
        let sleeps = long_poll(&shared, &[(&*a, 0), (&*b, 0)], started + Duration::from_millis(450));
        assert!(started.elapsed() >= Duration::from_millis(450), "it waited out the deadline");
        assert!(sleeps <= 6, "{sleeps} sleeps in 0.45 s");
        assert_eq!(a.appended.waiting(), 0, "unregistered from a");
        assert_eq!(b.appended.waiting(), 0, "unregistered from b");
        // An append to the second topic wakes a poll that would otherwise wait 30 s.
        let deadline = Instant::now() + Duration::from_secs(30);
        thread::scope(|s| {
            let poll = s.spawn(|| long_poll(&shared, &[(&*a, 0), (&*b, 0)], deadline));
            while b.appended.waiting() == 0 {
                thread::sleep(Duration::from_millis(1));
            }
            b.append_batch(&[b"x"]).expect("append");
            poll.join().expect("the poll");
        });
        assert!(Instant::now() < deadline, "woken by the append, not the deadline");
        assert_eq!(b.appended.waiting(), 0);
    }

    #[test]
    fn deleting_a_topic_ends_the_long_polls_on_it_and_frees_its_slot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path(), 4, 2);
        let a = shared.topic_or_create("a").expect("a");
        let b = shared.topic_or_create("b").expect("b");
        assert!(shared.topic_or_create("c").is_err(), "both slots taken");
        let deadline = Instant::now() + Duration::from_secs(30);
        thread::scope(|s| {
            // One poll on "a" alone (its signal) and one on both (a watch on each).
            let alone = s.spawn(|| long_poll(&shared, &[(&*a, 0)], deadline));
            let both = s.spawn(|| long_poll(&shared, &[(&*b, 0), (&*a, 0)], deadline));
            while a.appended.waiting() < 2 {
                thread::sleep(Duration::from_millis(1));
            }
            assert!(shared.delete_topic("a").expect("delete"));
            alone.join().expect("the poll on a");
            both.join().expect("the poll on both");
        });
        assert!(Instant::now() < deadline, "woken by the deletion, not the deadline");
        assert!(a.is_deleted() && !b.is_deleted());
        assert!(!shared.delete_topic("a").expect("delete again"), "nothing left to delete");
        assert_eq!(shared.topic_or_create("c").expect("a's slot is free").log.next_offset(), 0);
    }

    #[test]
    fn racers_that_all_loaded_the_count_below_the_cap_take_only_the_slots_left() {
        // Three of four slots taken; eight accept loops each load the count (3) and only then
        // try to take a slot, all at once. With compare-exchange one takes the last slot and the
        // others, finding 4 on retrying, are refused; a load-then-store would admit all eight.
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path(), 4, 1);
        for _ in 0..3 {
            assert!(shared.try_admit());
        }
        const RACERS: usize = 8;
        let meet = Arc::new(Rendezvous::new(RACERS, Duration::from_secs(20)));
        let admitted: usize = thread::scope(|s| {
            let racers: Vec<_> = (0..RACERS)
                .map(|_| {
                    let (shared, meet) = (&shared, meet.clone());
                    s.spawn(move || {
                        MEET.with(|m| *m.borrow_mut() = Some(meet));
                        shared.try_admit()
                    })
                })
                .collect();
            racers.into_iter().map(|r| usize::from(r.join().expect("no panic"))).sum()
        });
        assert_eq!(admitted, 1, "one racer takes the last slot");
        assert_eq!(shared.connections.load(Ordering::Acquire), 4, "the count never passes the cap");
        assert!(!shared.try_admit(), "the cap holds");
        shared.release_connection();
        assert!(shared.try_admit(), "a released slot is taken again");
        assert!(!shared.try_admit());
    }

    #[test]
    fn many_threads_racing_for_connection_slots_never_hold_more_than_the_cap() {
        // Sixteen threads against a cap of 5. First, each tries once, all having loaded the
        // count (0) together, and holds what it got until all have tried: exactly five hold a
        // slot (a load-then-store would let all sixteen in). Then each admits and releases 2 000
        // times, counting itself in while it holds its slot: never more than five at once, and
        // every slot comes back.
        const THREADS: usize = 16;
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path(), 5, 1);
        let meet = Arc::new(Rendezvous::new(THREADS, Duration::from_secs(20)));
        let tried = Barrier::new(THREADS);
        let holding = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let first_round: usize = thread::scope(|s| {
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (shared, meet, tried, holding, most) =
                        (&shared, meet.clone(), &tried, &holding, &most);
                    s.spawn(move || {
                        MEET.with(|m| *m.borrow_mut() = Some(meet));
                        let admitted = shared.try_admit();
                        tried.wait();
                        let first = usize::from(admitted);
                        if admitted {
                            shared.release_connection();
                        }
                        tried.wait();
                        for _ in 0..2_000 {
                            if shared.try_admit() {
                                let now = holding.fetch_add(1, Ordering::AcqRel) + 1;
                                most.fetch_max(now, Ordering::AcqRel);
                                holding.fetch_sub(1, Ordering::AcqRel);
                                shared.release_connection();
                            }
                        }
                        first
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("no panic")).sum()
        });
        assert_eq!(first_round, 5, "racing together, exactly the cap is admitted");
        let most = most.load(Ordering::Acquire);
        assert!((1..=5).contains(&most), "at most 5 slots held at once, {most} were");
        assert_eq!(shared.connections.load(Ordering::Acquire), 0, "every slot was given back");
        // All five can be held, and no sixth.
        assert_eq!((0..6).filter(|_| shared.try_admit()).count(), 5);
    }

    #[test]
    fn threads_creating_topics_at_once_create_exactly_the_cap() {
        // Twelve threads each create a topic of their own, together, under a cap of 3: three
        // are created (directory and all) and nine refused with the limit; existing topics
        // are still served to anyone.
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path(), 1, 3);
        let start = Barrier::new(12);
        let results: Vec<Result<String, usize>> = thread::scope(|s| {
            let creators: Vec<_> = (0..12)
                .map(|i| {
                    let (shared, start) = (&shared, &start);
                    s.spawn(move || {
                        start.wait();
                        match shared.topic_or_create(&format!("t{i}")) {
                            Ok(t) => Ok(t.name.clone()),
                            Err(TopicError::Limit { max }) => Err(max),
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect();
            creators.into_iter().map(|c| c.join().expect("no panic")).collect()
        });
        let created: Vec<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(created.len(), 3, "{results:?}");
        assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|&max| max == 3));
        assert_eq!(shared.topic_count.load(Ordering::Acquire), 3);
        assert_eq!(shared.topics.list().len(), 3);
        let dirs = std::fs::read_dir(dir.path())
            .expect("data dir")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_str().is_some_and(|n| n.starts_with('t'))));
        assert_eq!(dirs.count(), 3, "no topic directory past the cap");
        for name in created {
            assert_eq!(shared.topic_or_create(name).expect("an existing topic").name, *name);
        }
    }
}
