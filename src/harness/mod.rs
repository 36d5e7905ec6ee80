//! The harness: load generator, history and integrity checker.

use crate::storage::PayloadCheck;
use std::path::Path;

/// A payload checker for a topic directory the harness wrote (it holds a `run.json`).
pub fn payload_check_for(_topic_dir: &Path) -> Option<Box<dyn PayloadCheck>> {
    None
}
