//! Log lines that a client can cause, rate-limited: at most one line a second per kind. The
//! lines of a kind that fall within a second of the last one written are counted, not
//! written, and the next line of that kind written says how many there were, so a client
//! that sends garbage in a loop cannot fill the broker's stderr (or its disk).
//!
//! Each kind is one `static` [`RateLimited`]; the count is per kind and process, over every
//! connection.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest time between two lines of one kind.
pub const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// One kind of log line, written at most once per [`LOG_INTERVAL`].
pub struct RateLimited {
    state: Mutex<State>,
}

struct State {
    /// When the last line of this kind was written.
    last: Option<Instant>,
    /// Lines of this kind left out since then.
    suppressed: u64,
}

impl RateLimited {
    /// A kind with no line written yet.
    pub const fn new() -> RateLimited {
        RateLimited { state: Mutex::new(State { last: None, suppressed: 0 }) }
    }

    /// Whether a line may be written at `now`: `Some(n)` when it may, `n` being how many lines
    /// of this kind were left out since the last one written; `None` (counted) when not.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        // A panic elsewhere while holding this lock left a count and a time: both still good.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.last {
            Some(last) if now.saturating_duration_since(last) < LOG_INTERVAL => {
                state.suppressed = state.suppressed.saturating_add(1);
                None
            }
            _ => {
                state.last = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }

    /// Writes `line()` to stderr if [`Self::admit`] allows it now, with the count of the lines
    /// left out before it; `line` is not even formatted otherwise.
    pub fn log(&self, line: impl FnOnce() -> String) {
        match self.admit(Instant::now()) {
            None => {}
            Some(0) => eprintln!("{}", line()),
            Some(n) => eprintln!("{} ({n} more like it since the last one were not logged)", line()),
        }
    }
}

impl Default for RateLimited {
    fn default() -> RateLimited {
        RateLimited::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_next_counts_those_left_out() {
        let kind = RateLimited::new();
        let start = Instant::now();
        assert_eq!(kind.admit(start), Some(0), "the first line is written");
        for ms in [1, 10, 500, 999] {
            assert_eq!(kind.admit(start + Duration::from_millis(ms)), None, "{ms} ms later");
        }
        assert_eq!(kind.admit(start + LOG_INTERVAL), Some(4), "a second later, with the four left out");
        assert_eq!(kind.admit(start + LOG_INTERVAL), None);
        assert_eq!(kind.admit(start + 5 * LOG_INTERVAL), Some(1));
        assert_eq!(kind.admit(start + 9 * LOG_INTERVAL), Some(0));
    }

    #[test]
    fn kinds_are_counted_apart_and_a_clock_going_back_writes_nothing() {
        let (a, b) = (RateLimited::new(), RateLimited::new());
        let start = Instant::now() + LOG_INTERVAL;
        assert_eq!(a.admit(start), Some(0));
        assert_eq!(b.admit(start), Some(0), "another kind is not held back");
        assert_eq!(
            a.admit(start - Duration::from_millis(1)),
            None,
            "an earlier instant is within the second"
        );
        assert_eq!(a.admit(start + LOG_INTERVAL), Some(1));
    }

    #[test]
    fn ten_thousand_lines_in_a_burst_write_one() {
        let kind = RateLimited::new();
        let now = Instant::now();
        let written = (0..10_000).filter(|_| kind.admit(now).is_some()).count();
        assert_eq!(written, 1);
        assert_eq!(kind.admit(now + LOG_INTERVAL), Some(9_999));
    }
}
