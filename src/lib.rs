//! synclog: a Kafka-style commit log whose synchronization can be swapped, and a harness that
//! races it.
//!
//! The layers, bottom up (each a module, each documented where it lives):
//! - [`storage`]: the record format, `Log<S>` with its sparse index, topics, recovery, verify;
//! - `protocol`: the sans-IO wire codec and a buffered connection;
//! - `broker`: the TCP server, one thread per connection;
//! - `client`: blocking producer and consumer;
//! - `check`: the payload format, the recorded history and the integrity checker;
//! - `experiment`: the runner: one run, the comparison matrix, the ceilings, the peers, the demo;
//! - `kafka`: the Kafka wire protocol, a second listener on the same topics and a client;
//! - `report`: the result rows, and the tables, JSON/CSV files and charts made from them only.
//!
//! The synchronization itself lives in the `synclog-strategies` crate, re-exported here as
//! [`strategies`].

#![forbid(unsafe_code)]

pub use synclog_strategies as strategies;

pub mod broker;
pub mod check;
pub mod client;
pub mod experiment;
pub mod kafka;
pub mod protocol;
pub mod report;
pub mod storage;
pub mod violations;
