//! The experiment runner: races brokers (and peers) under load and reports what it measured.
//! The integrity checker it relies on is [`crate::check`].

pub mod ceiling;
pub mod compare;
pub mod demo;
pub mod peers;
pub mod run;
pub mod transport;
