//! The read buffers of all a broker's connections, bounded together (`--max-buffered-bytes`).
//!
//! Each connection's frame limit bounds what one peer can make it buffer, but not what many can:
//! a thousand connections each sending most of a 16 MiB frame, and then nothing, would hold
//! 16 GiB until their frame timeouts. So every connection that shares a [`BufferBudget`] takes
//! from it, *before* allocating, each growth of its read buffer past the
//! [`INITIAL_READ_BUFFER_BYTES`](super::INITIAL_READ_BUFFER_BYTES) every connection starts with
//! (those are bounded by `--max-connections`), and gives it back when the buffer shrinks or the
//! connection closes. A growth the budget cannot cover is
//! [`ConnectionError::BuffersFull`](super::ConnectionError::BuffersFull): answered 12
//! BuffersFull with correlation id 0, then the connection closes, its frame unread.
//!
//! The frames handed out from a buffer, decoded, may live beside it while they are served, so
//! the connections' read memory stays within about twice the budget.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `--max-buffered-bytes` by default: 256 MiB, sixteen frames of the default 16 MiB limit.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;

/// Bytes of read buffer that connections may take beyond their initial buffers, shared.
#[derive(Debug)]
pub struct BufferBudget {
    limit: usize,
    taken: AtomicUsize,
}

impl BufferBudget {
    /// A budget of `limit` bytes, none taken.
    pub fn new(limit: usize) -> BufferBudget {
        BufferBudget { limit, taken: AtomicUsize::new(0) }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes taken now.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }

    /// Takes `bytes` if the total stays within the limit; `false` (and nothing taken) if not.
    /// One compare-and-swap loop, so two connections can never both take the last room.
    pub fn take(&self, bytes: usize) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `bytes` taken earlier.
    pub fn give_back(&self, bytes: usize) {
        let before = self.taken.fetch_sub(bytes, Ordering::AcqRel);
        debug_assert!(before >= bytes, "gave back {bytes} of {before} taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::thread;

    #[test]
    fn takes_up_to_the_limit_and_no_further() {
        let budget = BufferBudget::new(100);
        assert!(budget.take(60));
        assert!(!budget.take(41), "60 + 41 is past 100");
        assert_eq!(budget.taken(), 60, "a refusal takes nothing");
        assert!(budget.take(40));
        budget.give_back(60);
        assert!(budget.take(60));
        assert!(!budget.take(usize::MAX), "no overflow");
    }

    #[test]
    fn racing_takers_never_share_the_last_room() {
        let budget = BufferBudget::new(1000);
        let start = Barrier::new(8);
        let granted: usize = thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        (0..100).filter(|_| budget.take(3)).count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("taker")).sum()
        });
        assert_eq!(granted, 333, "exactly the room for 333 takes of 3 was granted");
        assert_eq!(budget.taken(), 999);
    }
}
