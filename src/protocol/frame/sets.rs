//! Message and record sets: many payloads in two allocations.
//!
//! What a Produce request carries ([`MessageSet`]) and what a Fetch response carries
//! ([`RecordSet`]), stored compactly so that millions of messages per second do not make the
//! allocator the bottleneck.

use std::fmt;
use std::ops::Index;

/// An ordered set of message payloads stored compactly: all payload bytes in one buffer and the
/// end position of each payload in another.
///
/// Two allocations whatever the number of messages, where a `Vec<Vec<u8>>` would make one per
/// message: at millions of messages per second the allocator would otherwise dominate.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct MessageSet {
    /// Every payload, back to back, in order.
    bytes: Vec<u8>,
    /// `ends[i]` is the end of payload `i` in `bytes`; payload `i` starts where payload `i - 1`
    /// ends (payload 0 at 0). Non-decreasing, and the last one equals `bytes.len()`, so the
    /// representation is canonical and the derived equality compares payloads.
    ends: Vec<usize>,
}

impl MessageSet {
    /// An empty set.
    pub fn new() -> MessageSet {
        MessageSet::default()
    }

    /// An empty set with room for `messages` payloads totalling `total_bytes`.
    pub fn with_capacity(messages: usize, total_bytes: usize) -> MessageSet {
        MessageSet { bytes: Vec::with_capacity(total_bytes), ends: Vec::with_capacity(messages) }
    }

    /// Appends one payload (a copy of `payload`).
    pub fn push(&mut self, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        self.ends.push(self.bytes.len());
    }

    /// The number of payloads.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the set holds no payload.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The sum of the payload lengths.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Payload `index`, `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        Some(&self.bytes[start..end])
    }

    /// The payloads in order.
    pub fn iter(&self) -> Messages<'_> {
        Messages { set: self, front: 0, back: self.ends.len() }
    }

    /// Every payload back to back, without the boundaries between them.
    pub fn concatenated_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Removes every payload, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

impl Index<usize> for MessageSet {
    type Output = [u8];

    /// Payload `index`; panics past the end, as slice indexing does.
    fn index(&self, index: usize) -> &[u8] {
        match self.get(index) {
            Some(payload) => payload,
            None => panic!("message index {index} out of range for a set of {}", self.len()),
        }
    }
}

impl fmt::Debug for MessageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: AsRef<[u8]>> Extend<T> for MessageSet {
    fn extend<I: IntoIterator<Item = T>>(&mut self, payloads: I) {
        for payload in payloads {
            self.push(payload.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for MessageSet {
    fn from_iter<I: IntoIterator<Item = T>>(payloads: I) -> MessageSet {
        let mut set = MessageSet::new();
        set.extend(payloads);
        set
    }
}

impl From<Vec<Vec<u8>>> for MessageSet {
    fn from(payloads: Vec<Vec<u8>>) -> MessageSet {
        let total_bytes = payloads.iter().map(Vec::len).sum();
        let mut set = MessageSet::with_capacity(payloads.len(), total_bytes);
        set.extend(payloads);
        set
    }
}

impl<'a> IntoIterator for &'a MessageSet {
    type Item = &'a [u8];
    type IntoIter = Messages<'a>;

    fn into_iter(self) -> Messages<'a> {
        self.iter()
    }
}

/// The payloads of a [`MessageSet`] in order (from [`MessageSet::iter`]).
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    set: &'a MessageSet,
    /// The next payload `next()` yields.
    front: usize,
    /// One past the payload `next_back()` yields; `front <= back` always.
    back: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front == self.back {
            return None;
        }
        let payload = self.set.get(self.front);
        self.front += 1;
        payload
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.back - self.front;
        (remaining, Some(remaining))
    }
}

impl DoubleEndedIterator for Messages<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.set.get(self.back)
    }
}

impl ExactSizeIterator for Messages<'_> {}

/// Records as a fetch returns them: each payload with its offset, stored as a [`MessageSet`]
/// beside a vector of offsets.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct RecordSet {
    /// `offsets[i]` is the offset of `messages[i]`; always as long as `messages`.
    offsets: Vec<u64>,
    messages: MessageSet,
}

/// The `(offset, payload)` pairs of a [`RecordSet`] in order (from [`RecordSet::iter`]).
pub type Records<'a> = std::iter::Zip<std::iter::Copied<std::slice::Iter<'a, u64>>, Messages<'a>>;

impl RecordSet {
    /// An empty set.
    pub fn new() -> RecordSet {
        RecordSet::default()
    }

    /// An empty set with room for `records` records whose payloads total `total_bytes`.
    pub fn with_capacity(records: usize, total_bytes: usize) -> RecordSet {
        RecordSet {
            offsets: Vec::with_capacity(records),
            messages: MessageSet::with_capacity(records, total_bytes),
        }
    }

    /// Appends one record (a copy of `payload`).
    pub fn push(&mut self, offset: u64, payload: &[u8]) {
        self.offsets.push(offset);
        self.messages.push(payload);
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The sum of the payload lengths.
    pub fn total_bytes(&self) -> usize {
        self.messages.total_bytes()
    }

    /// Record `index` as `(offset, payload)`, `None` past the end.
    pub fn get(&self, index: usize) -> Option<(u64, &[u8])> {
        Some((*self.offsets.get(index)?, self.messages.get(index)?))
    }

    /// The records in order, as `(offset, payload)`.
    pub fn iter(&self) -> Records<'_> {
        self.offsets.iter().copied().zip(self.messages.iter())
    }

    /// The offsets alone.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// The payloads alone.
    pub fn messages(&self) -> &MessageSet {
        &self.messages
    }

    /// Removes every record, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.offsets.clear();
        self.messages.clear();
    }
}

impl fmt::Debug for RecordSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: AsRef<[u8]>> Extend<(u64, T)> for RecordSet {
    fn extend<I: IntoIterator<Item = (u64, T)>>(&mut self, records: I) {
        for (offset, payload) in records {
            self.push(offset, payload.as_ref());
        }
    }
}

impl<T: AsRef<[u8]>> FromIterator<(u64, T)> for RecordSet {
    fn from_iter<I: IntoIterator<Item = (u64, T)>>(records: I) -> RecordSet {
        let mut set = RecordSet::new();
        set.extend(records);
        set
    }
}

impl<'a> IntoIterator for &'a RecordSet {
    type Item = (u64, &'a [u8]);
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.iter()
    }
}
