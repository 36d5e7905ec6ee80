//! Choosing a strategy at run time, once.
//!
//! [`SyncStrategy`] is not object-safe, so a program cannot hold "some strategy" in a `Box<dyn
//! …>`. Instead it names a [`StrategyKind`] (parsed by clap from `--strategy rwlock`) and hands
//! a [`StrategyVisitor`] to [`StrategyKind::visit`], the **single place** in the whole project
//! that maps a kind to its monomorphized code path. Everything below the visitor is generic and
//! compiled once per strategy, so the strategy costs nothing it does not do.
//! [`StrategyKind::visit_timed`] is the same map with each strategy wrapped in
//! [`Timed`](crate::Timed) on request.

use crate::{MutexSync, NoSync, RwLockSync, SemaphoreSync, StdRwLockSync, SyncStrategy, Timed};
use std::fmt;
use std::str::FromStr;

/// The strategies by their command-line names. `name()` equals the type's `SyncStrategy::NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum StrategyKind {
    /// No synchronization: fast, and corrupts the log under concurrent appends.
    #[cfg_attr(feature = "clap", value(name = "none"))]
    None,
    /// One semaphore permit for readers and writers alike: safe, but reads block reads.
    #[cfg_attr(feature = "clap", value(name = "semaphore"))]
    Semaphore,
    /// parking_lot reader-writer lock: reads share, writes exclude.
    #[cfg_attr(feature = "clap", value(name = "rwlock"))]
    RwLock,
    /// parking_lot mutex: exclusive but cheap, the control beside the semaphore.
    #[cfg_attr(feature = "clap", value(name = "mutex"))]
    Mutex,
    /// std::sync::RwLock: another implementation and fairness policy.
    #[cfg_attr(feature = "clap", value(name = "std-rwlock"))]
    StdRwLock,
}

/// Code to run with a concrete strategy type: implement `visit` once, generically.
pub trait StrategyVisitor {
    /// What the visit produces.
    type Output;
    /// Runs with `S` chosen by the kind that was visited.
    fn visit<S: SyncStrategy>(self) -> Self::Output;
}

impl StrategyKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::None,
        StrategyKind::Semaphore,
        StrategyKind::RwLock,
        StrategyKind::Mutex,
        StrategyKind::StdRwLock,
    ];

    /// The single place that maps a kind to its monomorphized code path.
    pub fn visit<V: StrategyVisitor>(self, visitor: V) -> V::Output {
        match self {
            StrategyKind::None => visitor.visit::<NoSync>(),
            StrategyKind::Semaphore => visitor.visit::<SemaphoreSync>(),
            StrategyKind::RwLock => visitor.visit::<RwLockSync>(),
            StrategyKind::Mutex => visitor.visit::<MutexSync>(),
            StrategyKind::StdRwLock => visitor.visit::<StdRwLockSync>(),
        }
    }

    /// Like [`StrategyKind::visit`], with the strategy wrapped in [`Timed`] when `timed` is
    /// set (lock statistics on; see `timed`), and the plain strategy, at zero cost, when not.
    pub fn visit_timed<V: StrategyVisitor>(self, timed: bool, visitor: V) -> V::Output {
        if !timed {
            return self.visit(visitor);
        }
        match self {
            StrategyKind::None => visitor.visit::<Timed<NoSync>>(),
            StrategyKind::Semaphore => visitor.visit::<Timed<SemaphoreSync>>(),
            StrategyKind::RwLock => visitor.visit::<Timed<RwLockSync>>(),
            StrategyKind::Mutex => visitor.visit::<Timed<MutexSync>>(),
            StrategyKind::StdRwLock => visitor.visit::<Timed<StdRwLockSync>>(),
        }
    }

    /// The command-line and report name (`"rwlock"`), equal to the type's `SyncStrategy::NAME`.
    pub fn name(self) -> &'static str {
        struct Name;
        impl StrategyVisitor for Name {
            type Output = &'static str;
            fn visit<S: SyncStrategy>(self) -> &'static str {
                S::NAME
            }
        }
        self.visit(Name)
    }

    /// Does this strategy keep writers apart? `false` only for `none`.
    pub fn is_locking(self) -> bool {
        struct Locking;
        impl StrategyVisitor for Locking {
            type Output = bool;
            fn visit<S: SyncStrategy>(self) -> bool {
                S::EXCLUSIVE_WRITES
            }
        }
        self.visit(Locking)
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name was not one of the strategies; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        write!(f, "unknown strategy '{}' (expected one of: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for StrategyKind {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StrategyKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| UnknownStrategy(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_types() {
        let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["none", "semaphore", "rwlock", "mutex", "std-rwlock"]);
        for kind in StrategyKind::ALL {
            assert_eq!(kind.name().parse::<StrategyKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert!("rw-lock".parse::<StrategyKind>().is_err());
    }

    #[cfg(feature = "clap")]
    #[test]
    fn clap_names_equal_strategy_names() {
        use clap::ValueEnum;
        for kind in StrategyKind::ALL {
            let value = kind.to_possible_value().expect("every kind has a value");
            assert_eq!(value.get_name(), kind.name());
        }
    }

    #[test]
    fn only_none_lets_writers_overlap() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.is_locking(), kind != StrategyKind::None, "{kind}");
        }
    }
}
