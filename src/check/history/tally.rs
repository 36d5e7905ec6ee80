//! Violations a recorder finds on the spot, counted with a few examples each until the
//! topics' names are known.

use super::super::payload::ValueId;
use crate::violations::{Example, ViolationKind, Violations, MAX_EXAMPLES};

/// A violation example before topic names are known.
#[derive(Debug, Clone, Default)]
pub(in crate::check) struct RawExample {
    pub(in crate::check) topic: Option<u32>,
    pub(in crate::check) offset: Option<u64>,
    pub(in crate::check) value: Option<ValueId>,
    pub(in crate::check) detail: String,
}

impl RawExample {
    pub(in crate::check) fn at(topic: u32, offset: u64) -> Self {
        RawExample { topic: Some(topic), offset: Some(offset), ..RawExample::default() }
    }
    pub(in crate::check) fn value(mut self, value: ValueId) -> Self {
        self.value = Some(value);
        self
    }
    pub(in crate::check) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
    pub(in crate::check) fn to_example(&self, topic_name: &dyn Fn(u32) -> String) -> Example {
        let mut e = Example::detail(self.detail.clone());
        if let Some(t) = self.topic {
            e = e.topic(&topic_name(t));
        }
        if let Some(o) = self.offset {
            e = e.offset(o);
        }
        if let Some(v) = self.value {
            e = e.value(v.producer, v.seq);
        }
        e
    }
}

/// Counts and up to [`MAX_EXAMPLES`] examples per kind, kept by a recorder until names are known.
#[derive(Debug, Clone)]
pub(in crate::check) struct Tally {
    counts: Vec<u64>,
    examples: Vec<Vec<RawExample>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            counts: vec![0; ViolationKind::ALL.len()],
            examples: vec![Vec::new(); ViolationKind::ALL.len()],
        }
    }
}

impl Tally {
    /// Counts one `kind`; builds the example only when there is room to keep it.
    pub(in crate::check) fn add(&mut self, kind: ViolationKind, example: impl FnOnce() -> RawExample) {
        self.counts[kind as usize] += 1;
        let kept = &mut self.examples[kind as usize];
        if kept.len() < MAX_EXAMPLES {
            kept.push(example());
        }
    }

    pub(in crate::check) fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub(super) fn merge(&mut self, other: &Tally) {
        for (i, n) in other.counts.iter().enumerate() {
            self.counts[i] += n;
            for e in &other.examples[i] {
                if self.examples[i].len() < MAX_EXAMPLES {
                    self.examples[i].push(e.clone());
                }
            }
        }
    }

    /// Adds every count and example to `violations`, naming topics with `topic_name`.
    pub(in crate::check) fn add_to(&self, violations: &mut Violations, topic_name: &dyn Fn(u32) -> String) {
        for &kind in ViolationKind::ALL {
            let count = self.counts[kind as usize];
            let examples = &self.examples[kind as usize];
            for e in examples {
                violations.add(kind, e.to_example(topic_name));
            }
            // Examples are kept while there is room, so a count above the examples means the
            // examples are full and `add_many` keeps no further copy.
            let rest = count.saturating_sub(examples.len() as u64);
            if let Some(last) = examples.last() {
                violations.add_many(kind, rest, last.to_example(topic_name));
            }
        }
    }
}
