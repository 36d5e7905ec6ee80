//! Idempotent Kafka producers: InitProducerId hands out producer ids, and Produce batches
//! carrying a producer id, epoch and base sequence are written once each, across restarts.
//!
//! For each (topic, producer id) the broker keeps the producer's epoch and its last
//! [`REMEMBERED_BATCHES`] batches (first sequence, record count, base offset), as Kafka does
//! for the five requests a producer may have in flight. A batch from that producer is then:
//!
//! | the batch                                         | answer                                   |
//! |---------------------------------------------------|------------------------------------------|
//! | its first sequence, record count and values (their CRC) are a remembered batch's | acknowledged again with that batch's base offset; nothing is written |
//! | its first sequence is a remembered batch's, but its record count or values are not | OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing written |
//! | the next sequence (last + 1), same epoch          | appended                                 |
//! | sequence 0 from a producer not seen on this topic, or with a newer epoch | appended (a new producer, or a bumped epoch) |
//! | an older epoch                                    | INVALID_PRODUCER_EPOCH (47)              |
//! | any other sequence                                | OUT_OF_ORDER_SEQUENCE_NUMBER (45)        |
//! | a producer id not handed out by this run, nor named in a `producers.dat` read at start-up | UNKNOWN_PRODUCER_ID (59) |
//! | the state file could not be written               | KAFKA_STORAGE_ERROR (56), nothing written |
//!
//! The check, the append and the record of the batch happen under one lock, so two
//! connections of one producer cannot both append a retried batch (the price: idempotent
//! appends to every topic take turns; plain appends do not take this lock).
//!
//! ## Across a restart
//!
//! The log's records have no room for a producer id or a sequence, so each idempotent batch
//! gets an entry in its topic's `producers.dat` ([`super::producer_file`], docs/format.md):
//!
//! 1. under the lock, the entry is written with the base offset the batch is expected to get
//!    (the log's next offset), and under `--fsync always` forced to disk, **before** the
//!    batch's records are written; under `interval` it is forced with the first entry written
//!    to that topic an interval or more after the file's last sync, and when the broker stops;
//! 2. the batch is appended; if that fails the entry is taken back (the file cut to its length
//!    before it) and the error answered;
//! 3. if a plain (non-idempotent) append took the expected offset meanwhile, a second entry
//!    with the real base offset follows (a later entry for the same batch replaces an earlier).
//!
//! At start-up ([`Producers::open`]) each topic's entries are read back (a garbled entry or a
//! torn tail is skipped and logged, never fatal), folded by the rules of the table, and each
//! remembered batch is checked against the recovered log: its records must be there, at its
//! base offset, with the values it names (a CRC). An entry that fails (its batch was cut by
//! recovery, or never written) is dropped, so that batch, retried, is appended. The file is
//! then rewritten to hold what was kept. So a retry after a restart is acknowledged with its
//! original offset, and a gap is refused, exactly as before it.
//!
//! The crash windows left (docs/format.md says the same): a broker killed between step 2 and
//! 3 leaves an entry naming the wrong offset, so that batch, retried, is written again (only
//! when plain and idempotent producers append to one topic at the same instant); a machine
//! crash under `never`, or under `interval` before the entry's sync, can keep records whose
//! entry was lost, and their retry is written again; a garbled entry loses its batch's
//! deduplication (a retry of it is appended if it began at sequence 0, else refused as out of
//! order). Under `always`, and for a killed broker under every policy, there is none other.
//!
//! A batch is a retry only if it is the same batch: a batch that reuses a remembered first
//! sequence with other values is refused, never acknowledged with the other batch's offset.
//! Kafka's DUPLICATE_SEQUENCE_NUMBER (46) is not used for it, since clients take that code
//! for a success.
//!
//! ## Producer ids
//!
//! InitProducerId hands out serials one after another, in blocks of [`ID_BLOCK`]: before the
//! first serial of a block, the block's end is written to the data dir's `@producer-ids` and
//! forced to disk, so a restarted broker starts past every serial handed out before it. Were
//! the file lost or garbled, the broker starts past the clock (milliseconds since the Unix
//! epoch × 1000), and logs a warning. The id of a serial is its image under a keyed
//! permutation ([`ids`]): ids cannot be guessed from one another, so no client can write as
//! another's producer, and an id handed out maps back to a serial of this run. The key is drawn
//! from the OS's random source once per data dir and kept in `@producer-key` (written before
//! the first id under it is handed out); an id also named in a `producers.dat` read at start-up
//! is never handed out again. A batch is accepted only from an id this run handed out
//! or one named in a `producers.dat` read at start-up: an id handed out before a restart whose
//! producer wrote no idempotent batch before it is answered UNKNOWN_PRODUCER_ID (59), and the
//! client asks for a new one. A connection may ask for at most
//! [`MAX_PRODUCER_IDS_PER_CONNECTION`] ids; past it InitProducerId is answered
//! POLICY_VIOLATION (44).
//!
//! Transactions are not served: InitProducerId with a transactional id is refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), and transactional batches with CORRUPT_MESSAGE.
//!
//! Memory is bounded: at most [`MAX_PRODUCERS`] (topic, producer) entries are kept; past it the
//! entry of the least recently used producer is forgotten. That producer's next batch, a retry
//! or the next in order alike, is then refused as out of order (45) unless it starts at sequence
//! 0, so nothing is ever written twice, but Kafka clients take 45 as fatal: a client that
//! appends as many fresh producers as the table holds (a connection may ask for 100 ids, and
//! may reconnect) evicts the others, which must then start again with a new id. Each `producers.dat` is bounded too:
//! once it holds [`COMPACT_MIN_ENTRIES`] entries and twice what is remembered for its topic, it
//! is rewritten (atomically) with what is remembered.

use super::producer_file::{self, Entry, PRODUCERS_FILE};
use crate::kafka::code;
use crate::storage::{FsyncPolicy, Log};
use crate::strategies::SyncStrategy;
use ids::IdKey;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How many of a producer's last batches are remembered per topic.
pub const REMEMBERED_BATCHES: usize = 5;
/// The most (topic, producer id) entries kept.
pub const MAX_PRODUCERS: usize = 10_000;
/// Producer id serials reserved in `@producer-ids` at a time.
pub const ID_BLOCK: i64 = 1000;
/// The most producer ids one connection may ask for (InitProducerId); past it, POLICY_VIOLATION.
pub const MAX_PRODUCER_IDS_PER_CONNECTION: u32 = 100;
/// A `producers.dat` is never compacted below this many entries.
pub const COMPACT_MIN_ENTRIES: usize = 4096;

type Key = (String, i64);

struct Producer {
    epoch: i16,
    /// The last batches, oldest first; consecutive sequences.
    batches: VecDeque<Entry>,
    used: Instant,
}

/// One topic's `producers.dat`, as this run knows it.
struct FileState {
    /// Entries in the file (for compaction).
    entries: usize,
    /// Compact when `entries` reaches this.
    compact_at: usize,
    /// When the file was last forced to disk (the `interval` policy).
    synced: Instant,
    /// Entries were written since the last sync (forced when the broker stops).
    dirty: bool,
}

#[derive(Default)]
struct State {
    producers: HashMap<Key, Producer>,
    files: HashMap<String, FileState>,
}

/// Where the state is kept on disk; `None` in [`Producers::in_memory`].
struct Store {
    data_dir: PathBuf,
    fsync: FsyncPolicy,
}

/// The idempotent producers' state.
pub struct Producers {
    /// The first serial this run hands out: the ids it handed out are those of the serials
    /// `first_serial..next_serial`.
    first_serial: i64,
    /// The next serial InitProducerId hands out.
    next_serial: AtomicI64,
    /// The permutation from serials to ids.
    key: IdKey,
    /// The ids named by the entries of `producers.dat` at start-up: handed out before it.
    earlier_ids: HashSet<i64>,
    /// What is recorded on disk; taken to hand out an id.
    reserved: Mutex<Reserved>,
    state: Mutex<State>,
    store: Option<Store>,
}

/// What `@producer-ids` and `@producer-key` record.
struct Reserved {
    /// The end of the serial block reserved on disk.
    end: i64,
    /// Whether the key is yet to be written to `@producer-key` (before the first id under it).
    key_unrecorded: bool,
}

/// What to do with one idempotent batch.
pub struct BatchId<'a> {
    pub topic: &'a str,
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub records: usize,
    /// [`producer_file::values_crc`] of the batch's values.
    pub values_crc: u32,
}

/// Milliseconds since the Unix epoch × 1000: where ids start when nothing else is known.
fn clock_floor() -> i64 {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    now_ms.saturating_mul(1000)
}

/// Whether the batch `entry` names is in `log`: its records at its base offset, below the
/// high watermark, with its values.
pub fn stored<S: SyncStrategy>(log: &Log<S>, entry: &Entry) -> bool {
    let records = u64::from(entry.records);
    if entry.base_offset.checked_add(records).is_none_or(|end| end > log.high_watermark()) {
        return false;
    }
    match log.read(entry.base_offset, entry.records, u32::MAX) {
        Ok(batch) => {
            let offsets = batch.iter().map(|(o, _)| o).eq(entry.base_offset..entry.base_offset + records);
            offsets && producer_file::values_crc(batch.iter().map(|(_, v)| v)) == entry.values_crc
        }
        Err(_) => false,
    }
}

impl Producers {
    /// State kept in memory only (unit tests).
    pub fn in_memory() -> Producers {
        let first = clock_floor();
        Producers {
            first_serial: first,
            next_serial: AtomicI64::new(first),
            key: IdKey::random(),
            earlier_ids: HashSet::new(),
            reserved: Mutex::new(Reserved { end: i64::MAX, key_unrecorded: false }),
            state: Mutex::new(State::default()),
            store: None,
        }
    }

    /// Rebuilds the state of `topics` in `data_dir` from their `producers.dat`, keeping each
    /// remembered batch only if `stored(topic, entry)` finds it in the recovered log (see the
    /// module docs). Never fails: what cannot be read is dropped, and the second value holds a
    /// warning for each file that was damaged or could not be read or rewritten.
    pub fn open(
        data_dir: &Path,
        fsync: FsyncPolicy,
        topics: &[String],
        stored: impl Fn(&str, &Entry) -> bool,
    ) -> (Producers, Vec<String>) {
        let mut warnings = Vec::new();
        let mut state = State::default();
        let mut earlier_ids = HashSet::new();
        for topic in topics {
            let path = data_dir.join(topic).join(PRODUCERS_FILE);
            let back = match producer_file::read(&path) {
                Ok(back) => back,
                Err(e) => {
                    warnings.push(format!("cannot read {}: {e}; its producers start afresh", path.display()));
                    continue;
                }
            };
            let read = back.entries.len();
            // Every entry's producer id was handed out, whether or not its batch is kept.
            earlier_ids.extend(back.entries.iter().map(|e| e.producer_id));
            let (kept, unmatched) = fold(back.entries, |e| stored(topic, e));
            if back.garbled > 0 || back.partial_bytes > 0 || unmatched > 0 {
                warnings.push(format!(
                    "{}: {} garbled entries, {} bytes of a torn entry, {unmatched} entries whose batch \
                     is not in the log dropped; {} producers kept",
                    path.display(),
                    back.garbled,
                    back.partial_bytes,
                    kept.len()
                ));
            }
            let mut live = Vec::new();
            for (id, batches) in kept {
                if state.producers.len() >= MAX_PRODUCERS {
                    continue;
                }
                live.extend(batches.iter().copied());
                let epoch = batches.back().map_or(0, |b| b.epoch);
                state
                    .producers
                    .insert((topic.clone(), id), Producer { epoch, batches, used: Instant::now() });
            }
            if live.len() != read || back.garbled > 0 || back.partial_bytes > 0 {
                if let Err(e) = producer_file::rewrite(&path, &live) {
                    warnings.push(format!("cannot rewrite {}: {e}", path.display()));
                }
            }
            state.files.insert(topic.clone(), file_state(live.len()));
        }
        let next = match producer_file::read_reserved_ids(data_dir) {
            Ok(Some(end)) => end,
            Ok(None) => clock_floor(),
            Err(reason) => {
                warnings.push(format!("{reason}; producer id serials start past the clock"));
                clock_floor()
            }
        };
        let (key, key_unrecorded) = match IdKey::read(data_dir) {
            Ok(Some(key)) => (key, false),
            Ok(None) => (IdKey::random(), true),
            Err(reason) => {
                warnings.push(format!("{reason}; producer ids are made with a new key"));
                (IdKey::random(), true)
            }
        };
        let store = Store { data_dir: data_dir.to_path_buf(), fsync };
        let producers = Producers {
            first_serial: next,
            next_serial: AtomicI64::new(next),
            key,
            earlier_ids,
            reserved: Mutex::new(Reserved { end: next, key_unrecorded }),
            state: Mutex::new(state),
            store: Some(store),
        };
        (producers, warnings)
    }

    /// InitProducerId: a fresh producer id at epoch 0, or KAFKA_STORAGE_ERROR when a new
    /// serial block or the key cannot be recorded.
    pub fn init(&self) -> Result<(i64, i16), i16> {
        let mut reserved = self.reserved.lock();
        let mut serial = self.next_serial.load(Ordering::Acquire);
        loop {
            if serial >= reserved.end {
                let end = serial.saturating_add(ID_BLOCK);
                if let Some(store) = &self.store {
                    self.record_block(&store.data_dir, end, reserved.key_unrecorded).map_err(|e| {
                        eprintln!("synclog: cannot record a block of producer ids: {e}");
                        code::KAFKA_STORAGE_ERROR
                    })?;
                }
                *reserved = Reserved { end, key_unrecorded: false };
            }
            let id = self.key.id_of(serial);
            serial = serial.saturating_add(1);
            self.next_serial.store(serial, Ordering::Release);
            // An id a producer of an earlier run wrote with (under another key, or by chance)
            // is that producer's: skipped.
            if !self.earlier_ids.contains(&id) {
                return Ok((id, 0));
            }
        }
    }

    /// Writes the key if it is not on disk yet, then the end of a new serial block.
    fn record_block(&self, data_dir: &Path, end: i64, key_unrecorded: bool) -> std::io::Result<()> {
        if key_unrecorded {
            self.key.write(data_dir)?;
        }
        producer_file::write_reserved_ids(data_dir, end)
    }

    /// Whether `id` was handed out: by this run (its serial is one of this run's), or before
    /// it to a producer that wrote an entry to a `producers.dat` read at start-up.
    fn handed_out(&self, id: i64) -> bool {
        let this_run = self.first_serial..self.next_serial.load(Ordering::Acquire);
        self.key.serial_of(id).is_some_and(|serial| this_run.contains(&serial))
            || self.earlier_ids.contains(&id)
    }

    /// Forgets every producer's state for `topic`, deleted with its `producers.dat`: a topic
    /// created again under its name starts with none.
    pub fn forget_topic(&self, topic: &str) {
        let mut state = self.state.lock();
        state.producers.retain(|(t, _), _| t != topic);
        state.files.remove(topic);
    }

    /// Writes `batch` once: `append` runs only for a batch that is new and in order, after its
    /// entry was recorded with the base offset `expected()` gives; the base offset (the original
    /// one for a retry), or the Kafka error code.
    pub fn append_once(
        &self,
        batch: BatchId<'_>,
        expected: impl FnOnce() -> u64,
        append: impl FnOnce() -> Result<u64, i16>,
    ) -> Result<u64, i16> {
        if !self.handed_out(batch.producer_id) {
            return Err(code::UNKNOWN_PRODUCER_ID);
        }
        let records = u32::try_from(batch.records).map_err(|_| code::CORRUPT_MESSAGE)?;
        let mut state = self.state.lock();
        let key = (batch.topic.to_owned(), batch.producer_id);
        if let Some(base) = check(state.producers.get(&key), &batch)? {
            return Ok(base);
        }
        let mut entry = Entry {
            producer_id: batch.producer_id,
            epoch: batch.epoch,
            first_sequence: batch.base_sequence,
            records,
            base_offset: expected(),
            values_crc: batch.values_crc,
        };
        let before = self.record(&mut state, batch.topic, &entry).map_err(|e| {
            eprintln!("synclog: cannot record an idempotent batch of topic {}: {e}", batch.topic);
            code::KAFKA_STORAGE_ERROR
        })?;
        let base = match append() {
            Ok(base) => base,
            Err(error) => {
                self.take_back(&mut state, batch.topic, before);
                return Err(error);
            }
        };
        if base != entry.base_offset {
            entry.base_offset = base;
            if let Err(e) = self.record(&mut state, batch.topic, &entry) {
                eprintln!(
                    "synclog: cannot record the offset of an idempotent batch of topic {}: {e}; \
                     after a restart a retry of it would be written again",
                    batch.topic
                );
            }
        }
        remember(&mut state.producers, key, entry);
        self.compact_if_due(&mut state, batch.topic);
        Ok(base)
    }

    /// Appends `entry` to its topic's file, forced to disk as the policy says; the file's
    /// length before it (`None` in memory).
    fn record(&self, state: &mut State, topic: &str, entry: &Entry) -> std::io::Result<Option<u64>> {
        let Some(store) = &self.store else { return Ok(None) };
        let file = state.files.entry(topic.to_owned()).or_insert_with(|| file_state(0));
        let sync = match store.fsync {
            FsyncPolicy::Never => false,
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => file.synced.elapsed() >= every,
        };
        let before = producer_file::append(&store.data_dir.join(topic).join(PRODUCERS_FILE), entry, sync)?;
        file.entries += 1;
        file.dirty = !sync;
        if sync {
            file.synced = Instant::now();
        }
        Ok(Some(before))
    }

    /// Takes back the entry of a batch that was not written: cuts the file to `before`.
    fn take_back(&self, state: &mut State, topic: &str, before: Option<u64>) {
        let (Some(store), Some(before)) = (&self.store, before) else { return };
        let path = store.data_dir.join(topic).join(PRODUCERS_FILE);
        let sync = store.fsync != FsyncPolicy::Never;
        match producer_file::truncate(&path, before, sync) {
            Ok(()) => {
                if let Some(f) = state.files.get_mut(topic) {
                    f.entries = f.entries.saturating_sub(1);
                }
            }
            // The entry stays; at start-up it is checked against the log and dropped.
            Err(e) => eprintln!("synclog: cannot take back an entry of {}: {e}", path.display()),
        }
    }

    /// Rewrites `topic`'s file with what is remembered once it has grown past its bound.
    fn compact_if_due(&self, state: &mut State, topic: &str) {
        let Some(store) = &self.store else { return };
        if state.files.get(topic).is_none_or(|f| f.entries < f.compact_at) {
            return;
        }
        let live: Vec<Entry> = state
            .producers
            .iter()
            .filter(|((t, _), _)| t == topic)
            .flat_map(|(_, p)| p.batches.iter().copied())
            .collect();
        let path = store.data_dir.join(topic).join(PRODUCERS_FILE);
        match producer_file::rewrite(&path, &live) {
            Ok(()) => {
                let synced = Instant::now();
                state.files.insert(topic.to_owned(), FileState { synced, ..file_state(live.len()) });
            }
            Err(e) => eprintln!("synclog: cannot compact {}: {e}", path.display()),
        }
    }
}

impl Drop for Producers {
    /// A stopping broker forces what `interval` left unsynced to disk, as the log's close does.
    fn drop(&mut self) {
        let Some(store) = &self.store else { return };
        if store.fsync == FsyncPolicy::Never {
            return;
        }
        for (topic, _) in self.state.get_mut().files.iter().filter(|(_, f)| f.dirty) {
            let path = store.data_dir.join(topic).join(PRODUCERS_FILE);
            if let Err(e) = producer_file::sync(&path) {
                eprintln!("synclog: cannot sync {}: {e}", path.display());
            }
        }
    }
}

fn file_state(entries: usize) -> FileState {
    FileState {
        entries,
        compact_at: COMPACT_MIN_ENTRIES.max(2 * entries),
        synced: Instant::now(),
        dirty: false,
    }
}

/// The rules of the module docs' table for a producer with state `producer`: `Ok(Some(base))`
/// for a retry, `Ok(None)` for a batch to append, or the error code.
fn check(producer: Option<&Producer>, batch: &BatchId<'_>) -> Result<Option<u64>, i16> {
    match producer {
        Some(p) if batch.epoch < p.epoch => Err(code::INVALID_PRODUCER_EPOCH),
        Some(p) if batch.epoch == p.epoch => {
            if let Some(seen) = p.batches.iter().find(|b| b.first_sequence == batch.base_sequence) {
                // The same batch again, not another one reusing its sequence.
                let same = seen.records as usize == batch.records && seen.values_crc == batch.values_crc;
                return match same {
                    true => Ok(Some(seen.base_offset)),
                    false => Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
                };
            }
            match batch.base_sequence == p.batches.back().map_or(0, next_sequence) {
                true => Ok(None),
                false => Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
            }
        }
        _ if batch.base_sequence != 0 => Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER),
        _ => Ok(None),
    }
}

/// The sequence after `b` (sequences wrap from i32::MAX to 0, as Kafka's do).
fn next_sequence(b: &Entry) -> i32 {
    (b.first_sequence as i64 + i64::from(b.records)).rem_euclid(i64::from(i32::MAX) + 1) as i32
}

/// Records an appended batch in the state, forgetting the least recently used producer when
/// the state is full.
fn remember(producers: &mut HashMap<Key, Producer>, key: Key, entry: Entry) {
    if !producers.contains_key(&key) && producers.len() >= MAX_PRODUCERS {
        if let Some(oldest) = producers.iter().min_by_key(|(_, p)| p.used).map(|(k, _)| k.clone()) {
            producers.remove(&oldest);
        }
    }
    let producer = producers.entry(key).or_insert_with(|| Producer {
        epoch: entry.epoch,
        batches: VecDeque::new(),
        used: Instant::now(),
    });
    push(producer, entry);
    producer.used = Instant::now();
}

/// Adds `entry` to a producer's remembered batches by the table's rules: a newer epoch starts
/// afresh, a batch with a remembered first sequence replaces it, at most
/// [`REMEMBERED_BATCHES`] are kept.
fn push(producer: &mut Producer, entry: Entry) {
    if entry.epoch != producer.epoch {
        producer.epoch = entry.epoch;
        producer.batches.clear();
    }
    producer.batches.retain(|b| b.first_sequence != entry.first_sequence);
    if producer.batches.len() == REMEMBERED_BATCHES {
        producer.batches.pop_front();
    }
    producer.batches.push_back(entry);
}

/// Folds a file's entries into each producer's remembered batches (older epochs skipped), then
/// keeps of those only the batches `stored` finds in the log; also returns how many it did not.
fn fold(entries: Vec<Entry>, stored: impl Fn(&Entry) -> bool) -> (HashMap<i64, VecDeque<Entry>>, usize) {
    let mut producers: HashMap<i64, Producer> = HashMap::new();
    for e in entries {
        let p = producers.entry(e.producer_id).or_insert_with(|| Producer {
            epoch: e.epoch,
            batches: VecDeque::new(),
            used: Instant::now(),
        });
        if e.epoch >= p.epoch {
            push(p, e);
        }
    }
    let mut unmatched = 0;
    let kept = producers
        .into_iter()
        .filter_map(|(id, p)| {
            let remembered = p.batches.len();
            let kept: VecDeque<Entry> = p.batches.into_iter().filter(|b| stored(b)).collect();
            unmatched += remembered - kept.len();
            (!kept.is_empty()).then_some((id, kept))
        })
        .collect();
    (kept, unmatched)
}

pub mod ids;

#[cfg(test)]
mod tests;
