//! Every kind of integrity violation synclog can find, and a tally of them.
//!
//! The kinds and their names are those of `docs/violations.md`, in three sections: **A** the log file
//! scanned from byte 0, **B** the sparse index compared with one rebuilt from the log, **C**
//! what producers and consumers observed. `synclog verify` reports A and B; a harness run
//! reports all three. One cause is counted under exactly one kind, so tests can assert exact
//! counts.
//!
//! A [`Violations`] tally holds, for every kind, a count (or "not checked", `None`, for a kind
//! the run could not see, such as the files when the harness talks to a remote broker) and up
//! to [`MAX_EXAMPLES`] examples naming topic, offset, producer, sequence number and byte position.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::fmt;

/// How many examples a tally keeps per kind; further ones are only counted.
pub const MAX_EXAMPLES: usize = 5;

/// Which part of the check found a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The log file, scanned from byte 0.
    Log,
    /// The sparse index, compared with one rebuilt from the log.
    Index,
    /// What producers and consumers observed during the run and the final drain.
    Observed,
}

macro_rules! kinds {
    ($($variant:ident = $name:literal, $section:ident, $error:literal, $doc:literal;)*) => {
        /// One kind of violation, named as in `docs/violations.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ViolationKind {
            $(#[doc = $doc] $variant,)*
        }

        impl ViolationKind {
            /// Every kind, in `docs/violations.md` order (A, then B, then C).
            pub const ALL: &'static [ViolationKind] = &[$(ViolationKind::$variant,)*];

            /// The snake_case name used in reports and JSON.
            pub fn name(self) -> &'static str {
                match self { $(ViolationKind::$variant => $name,)* }
            }

            /// The section of `docs/violations.md` the kind belongs to.
            pub fn section(self) -> Section {
                match self { $(ViolationKind::$variant => Section::$section,)* }
            }

            /// Whether a count above zero makes the verdict `corrupted` (in a harness run).
            pub fn is_error(self) -> bool {
                match self { $(ViolationKind::$variant => $error,)* }
            }

            /// One line saying what the kind means.
            pub fn meaning(self) -> &'static str {
                match self { $(ViolationKind::$variant => $doc,)* }
            }
        }
    };
}

kinds! {
    TornTail = "torn_tail", Log, true, "bytes after the last good record are too few for a header, or a length runs past the end";
    CorruptRecord = "corrupt_record", Log, true, "a record header with an impossible length or a CRC mismatch";
    OffsetDuplicate = "offset_duplicate", Log, true, "a record's offset equals the previous record's";
    OffsetGap = "offset_gap", Log, true, "a record's offset is more than one past the previous record's";
    OffsetRegression = "offset_regression", Log, true, "a record's offset is below the previous record's";
    BadBase = "bad_base", Log, true, "the first record's offset is not 0";
    PayloadChecksum = "payload_checksum", Log, true, "the record CRC passes but the producer's own checksum fails";
    DuplicateValue = "duplicate_value", Log, true, "the same (producer, seq) is stored at more than one offset";
    UnknownValue = "unknown_value", Log, true, "a stored payload that no producer ever sent";
    IndexSize = "index_size", Index, true, "the index file length is not a multiple of 16 bytes";
    IndexNonmonotonic = "index_nonmonotonic", Index, true, "index offsets or positions do not strictly increase";
    IndexDangling = "index_dangling", Index, true, "an index position inside the log that is not a record boundary";
    IndexWrongTarget = "index_wrong_target", Index, true, "the record at an entry's position has another offset";
    IndexMissing = "index_missing", Index, true, "an interval offset in the log has no index entry";
    IndexExtra = "index_extra", Index, true, "an index entry for an offset off the interval";
    IndexStale = "index_stale", Index, true, "an index entry past the last valid record";
    Lost = "lost", Observed, true, "acknowledged, but absent from the final drain";
    LostWrite = "lost_write", Observed, true, "acknowledged and drained, at or below an offset consumers read past, yet read by none during the load (drained values only: one the drain lacks is lost)";
    Unexpected = "unexpected", Observed, true, "a consumer read a value that nobody sent";
    ForeignRecord = "foreign_record", Observed, true, "the final drain read a record that is no value of this run sent to that topic";
    Duplicated = "duplicated", Observed, true, "one value delivered at two offsets";
    Recovered = "recovered", Observed, false, "read, although its send ended unknown (informational)";
    AbortedRead = "aborted_read", Observed, true, "read, although its send was answered with an error";
    InconsistentOffsets = "inconsistent_offsets", Observed, true, "one (topic, offset) associated with two different values";
    CorruptRead = "corrupt_read", Observed, true, "offsets skipped after a fetch was answered CorruptLog";
    AckOffsetMismatch = "ack_offset_mismatch", Observed, true, "an acknowledged offset does not hold that value in the drain (drained values only: one the drain lacks is lost)";
    AckOffsetCollision = "ack_offset_collision", Observed, true, "two acknowledgements returned the same offset";
    NonmonotonicSend = "nonmonotonic_send", Observed, true, "a producer's later ack offset is not above its earlier one";
    PollSkip = "poll_skip", Observed, true, "a consumer's next fetch starts past last+1 although those offsets exist";
    NonmonotonicPoll = "nonmonotonic_poll", Observed, true, "a consumer's next fetch goes back";
    IntPollSkip = "int_poll_skip", Observed, true, "offsets inside one fetch response skip";
    IntNonmonotonicPoll = "int_nonmonotonic_poll", Observed, true, "offsets inside one fetch response go back or repeat";
    Unseen = "unseen", Observed, false, "acknowledged but read by no consumer during the load (informational)";
    ReadBeyondHw = "read_beyond_hw", Observed, true, "a fetch returned an offset at or past the high watermark sent with it";
    HwRegression = "hw_regression", Observed, true, "a consumer saw the high watermark fall";
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where one violation was found. Every field is optional; `detail` says the rest in words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Example {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Example {
    /// An example with only a description.
    pub fn detail(detail: impl Into<String>) -> Self {
        Example { detail: detail.into(), ..Example::default() }
    }
    /// Replaces the description.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
    pub fn topic(mut self, topic: &str) -> Self {
        self.topic = Some(topic.to_string());
        self
    }
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
    pub fn position(mut self, position: u64) -> Self {
        self.position = Some(position);
        self
    }
    pub fn value(mut self, producer: u32, seq: u64) -> Self {
        self.producer = Some(producer);
        self.seq = Some(seq);
        self
    }
}

impl fmt::Display for Example {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = &self.topic {
            parts.push(format!("topic {t}"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("offset {o}"));
        }
        if let (Some(p), Some(s)) = (self.producer, self.seq) {
            parts.push(format!("producer {p} seq {s}"));
        }
        if let Some(p) = self.position {
            parts.push(format!("byte {p}"));
        }
        if !self.detail.is_empty() {
            parts.push(self.detail.clone());
        }
        f.write_str(&parts.join(", "))
    }
}

/// A count and a few examples for every kind. Kinds start as "not checked" (`None`); a checker
/// marks the kinds it covers with [`Violations::checked`] and then adds what it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations {
    /// Indexed by `ViolationKind as usize`; `None` means the kind was not checked.
    counts: Vec<Option<u64>>,
    /// Indexed like `counts`; at most `MAX_EXAMPLES` each.
    examples: Vec<Vec<Example>>,
}

impl Default for Violations {
    fn default() -> Self {
        Violations {
            counts: vec![None; ViolationKind::ALL.len()],
            examples: vec![Vec::new(); ViolationKind::ALL.len()],
        }
    }
}

impl Violations {
    /// A tally with no kind checked yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks every kind of `section` as checked (count 0 unless already counted).
    pub fn checked(&mut self, section: Section) -> &mut Self {
        for &kind in ViolationKind::ALL {
            if kind.section() == section {
                self.check_kind(kind);
            }
        }
        self
    }

    /// Marks one kind as checked.
    pub fn check_kind(&mut self, kind: ViolationKind) -> &mut Self {
        let c = &mut self.counts[kind as usize];
        if c.is_none() {
            *c = Some(0);
        }
        self
    }

    /// Counts one violation of `kind`, keeping the example if there is room.
    pub fn add(&mut self, kind: ViolationKind, example: Example) {
        self.add_many(kind, 1, example);
    }

    /// Counts `n` violations of `kind` that share one example.
    pub fn add_many(&mut self, kind: ViolationKind, n: u64, example: Example) {
        if n == 0 {
            return;
        }
        let c = self.counts[kind as usize].get_or_insert(0);
        *c += n;
        let ex = &mut self.examples[kind as usize];
        if ex.len() < MAX_EXAMPLES {
            ex.push(example);
        }
    }

    /// The count for `kind`, `None` when it was not checked.
    pub fn get(&self, kind: ViolationKind) -> Option<u64> {
        self.counts[kind as usize]
    }

    /// The count for `kind`, 0 when not checked.
    pub fn count(&self, kind: ViolationKind) -> u64 {
        self.get(kind).unwrap_or(0)
    }

    /// The examples kept for `kind`.
    pub fn examples(&self, kind: ViolationKind) -> &[Example] {
        &self.examples[kind as usize]
    }

    /// Adds every count and example of `other` (a kind checked in either is checked here).
    pub fn merge(&mut self, other: &Violations) {
        for &kind in ViolationKind::ALL {
            if let Some(n) = other.get(kind) {
                self.check_kind(kind);
                let c = self.counts[kind as usize].get_or_insert(0);
                *c += n;
                let ex = &mut self.examples[kind as usize];
                for e in other.examples(kind) {
                    if ex.len() < MAX_EXAMPLES {
                        ex.push(e.clone());
                    }
                }
            }
        }
    }

    /// The kinds with a count above zero, in `docs/violations.md` order.
    pub fn found(&self) -> impl Iterator<Item = (ViolationKind, u64)> + '_ {
        ViolationKind::ALL.iter().filter_map(|&k| match self.get(k) {
            Some(n) if n > 0 => Some((k, n)),
            _ => None,
        })
    }

    /// The number of violations of error kinds (informational kinds excluded).
    pub fn error_total(&self) -> u64 {
        self.found().filter(|(k, _)| k.is_error()).map(|(_, n)| n).sum()
    }

    /// `true` when no error kind was counted.
    pub fn is_clean(&self) -> bool {
        self.error_total() == 0
    }

    /// Serializes as `{kind: count-or-null}` for every kind.
    pub fn counts_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for &k in ViolationKind::ALL {
            map.insert(k.name().to_string(), serde_json::to_value(self.get(k)).unwrap_or_default());
        }
        serde_json::Value::Object(map)
    }

    /// Serializes as `{kind: [examples]}` for the kinds that have any.
    pub fn examples_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for &k in ViolationKind::ALL {
            let ex = self.examples(k);
            if !ex.is_empty() {
                map.insert(k.name().to_string(), serde_json::to_value(ex).unwrap_or_default());
            }
        }
        serde_json::Value::Object(map)
    }
}

impl Serialize for Violations {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(ViolationKind::ALL.len()))?;
        for &k in ViolationKind::ALL {
            map.serialize_entry(k.name(), &self.get(k))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_cover_checker_md() {
        let mut names: Vec<&str> = ViolationKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), 35);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 35);
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn unchecked_kinds_are_null_and_informational_kinds_do_not_corrupt() {
        let mut v = Violations::new();
        v.checked(Section::Observed);
        assert_eq!(v.get(ViolationKind::TornTail), None);
        assert_eq!(v.get(ViolationKind::Lost), Some(0));
        v.add(ViolationKind::Unseen, Example::default());
        v.add(ViolationKind::Recovered, Example::default());
        assert!(v.is_clean());
        v.add(ViolationKind::Lost, Example::detail("x").offset(3));
        assert!(!v.is_clean());
        assert_eq!(v.error_total(), 1);
        let json = v.counts_json();
        assert_eq!(json["torn_tail"], serde_json::Value::Null);
        assert_eq!(json["lost"], 1);
    }

    #[test]
    fn examples_are_capped_but_counts_are_not() {
        let mut v = Violations::new();
        for i in 0..20 {
            v.add(ViolationKind::OffsetGap, Example::default().offset(i));
        }
        assert_eq!(v.count(ViolationKind::OffsetGap), 20);
        assert_eq!(v.examples(ViolationKind::OffsetGap).len(), MAX_EXAMPLES);
        let mut w = Violations::new();
        w.merge(&v);
        w.merge(&v);
        assert_eq!(w.count(ViolationKind::OffsetGap), 40);
    }
}
