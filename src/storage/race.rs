//! The race window: a place inside an append to hold a thread, so the race can be watched.
//!
//! An append loads the next offset and the end position, then writes, then stores the new
//! values. Between the loads and the write is the *race window*: under `NoSync`, another
//! appender that loads during it gets the same offset and position. On a fast machine the
//! window is a few hundred nanoseconds wide and collisions are rare; widening it makes them
//! common (`--race-window-us`), and a [`Rendezvous`] makes one certain, which is what the tests
//! use: they never rely on luck.
//!
//! Under a locking strategy the window sits inside the write section, so a second appender
//! cannot enter it while the first waits; the rendezvous therefore waits only a bounded time
//! and then lets the lone appender go on. Nothing here runs unless a window is configured.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where an append is when it calls the race window's hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RacePoint {
    /// The offset and end position have been loaded; nothing is written yet.
    Loaded { offset: u64, position: u64, record_bytes: u64 },
    /// Under `AppendMode::Reserve` only: the reservation is stored and the write section left;
    /// nothing is written yet.
    Reserved { offset: u64, position: u64, record_bytes: u64 },
    /// The records are written. Under `AppendMode::Whole` the new end and offset are not stored
    /// yet (inside the write section); under `Reserve` they were stored at the reservation,
    /// and this runs outside the section.
    Written { offset: u64, position: u64, record_bytes: u64 },
}

/// A callback run at each [`RacePoint`] of every append (tests script interleavings with it).
pub type RaceHook = Arc<dyn Fn(RacePoint) + Send + Sync>;

/// What an append does in its race window.
#[derive(Clone, Default)]
pub enum RaceWindow {
    /// Nothing: the natural window only.
    #[default]
    Off,
    /// Sleep this long after the loads (`--race-window-us`).
    Sleep(Duration),
    /// Wait after the loads until another appender arrives too (bounded): a forced collision.
    Rendezvous(Arc<Rendezvous>),
    /// Call this at every race point.
    Hook(RaceHook),
}

impl fmt::Debug for RaceWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaceWindow::Off => f.write_str("Off"),
            RaceWindow::Sleep(d) => write!(f, "Sleep({d:?})"),
            RaceWindow::Rendezvous(r) => write!(f, "Rendezvous({} parties, {:?})", r.parties, r.timeout),
            RaceWindow::Hook(_) => f.write_str("Hook"),
        }
    }
}

impl RaceWindow {
    /// A window of `us` microseconds (0 means off).
    pub fn from_micros(us: u64) -> RaceWindow {
        if us == 0 {
            RaceWindow::Off
        } else {
            RaceWindow::Sleep(Duration::from_micros(us))
        }
    }

    /// A rendezvous of `parties` appenders that waits at most `timeout` for the others.
    pub fn rendezvous(parties: usize, timeout: Duration) -> RaceWindow {
        RaceWindow::Rendezvous(Arc::new(Rendezvous::new(parties, timeout)))
    }

    /// Runs the window at `point`.
    #[inline]
    pub(crate) fn at(&self, point: RacePoint) {
        match self {
            RaceWindow::Off => {}
            RaceWindow::Sleep(d) => {
                if matches!(point, RacePoint::Loaded { .. }) {
                    std::thread::sleep(*d)
                }
            }
            RaceWindow::Rendezvous(r) => {
                if matches!(point, RacePoint::Loaded { .. }) {
                    r.arrive();
                }
            }
            RaceWindow::Hook(h) => h(point),
        }
    }
}

/// A reusable meeting point for `parties` threads with a bounded wait.
///
/// Invariant: `state.0` counts the threads waiting in the current generation (`state.1`); when
/// it reaches `parties` the generation advances and everyone waiting goes on. A thread that
/// waits `timeout` without the others arriving leaves alone and takes itself out of the count.
#[derive(Debug)]
pub struct Rendezvous {
    parties: usize,
    timeout: Duration,
    state: Mutex<(usize, u64)>,
    met: Condvar,
}

impl Rendezvous {
    /// A meeting point for `parties` threads.
    pub fn new(parties: usize, timeout: Duration) -> Rendezvous {
        Rendezvous { parties, timeout, state: Mutex::new((0, 0)), met: Condvar::new() }
    }

    /// Waits until `parties` threads have arrived or `timeout` has passed. Returns `true` if the
    /// meeting happened.
    pub fn arrive(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let generation = state.1;
        state.0 += 1;
        if state.0 >= self.parties {
            // The last to arrive releases the others and starts a new generation.
            *state = (0, generation + 1);
            self.met.notify_all();
            return true;
        }
        let deadline = Instant::now() + self.timeout;
        while state.1 == generation {
            let now = Instant::now();
            if now >= deadline {
                // Nobody came: leave the meeting, so the next arrivals count correctly.
                state.0 -= 1;
                return false;
            }
            state = self.met.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn two_parties_meet_and_a_lone_party_times_out() {
        let r = Rendezvous::new(2, Duration::from_secs(5));
        let met = thread::scope(|s| {
            let a = s.spawn(|| r.arrive());
            let b = s.spawn(|| r.arrive());
            (a.join().expect("a"), b.join().expect("b"))
        });
        assert_eq!(met, (true, true));
        let lone = Rendezvous::new(2, Duration::from_millis(20));
        assert!(!lone.arrive());
        // The lone arrival took itself out of the count and the generation did not advance,
        // so the next pair meets as a pair.
        assert_eq!(*lone.state.lock().expect("state"), (0, 0));
    }
}
