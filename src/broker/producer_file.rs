//! The files that carry idempotent producers' state across a restart (docs/format.md,
//! "Idempotent producers"): a per-topic `producers.dat` and the data dir's `@producer-ids`.
//!
//! The record format has no room for a producer id or a sequence (a payload is opaque bytes and
//! other readers of `log.dat` rely on that), so the state lives beside the log. `producers.dat`
//! is append-only, one fixed-size entry per idempotent batch written to the topic:
//!
//! | bytes  | field (all integers big-endian)                                  |
//! |--------|------------------------------------------------------------------|
//! | 0..8   | producer id: i64                                                 |
//! | 8..10  | producer epoch: i16                                              |
//! | 10..14 | the batch's first sequence: i32                                  |
//! | 14..18 | records in the batch: u32 (≥ 1)                                  |
//! | 18..26 | base offset: u64, the offset of the batch's first record        |
//! | 26..30 | CRC-32C of the batch's values (each as u32 length + bytes): u32  |
//! | 30..32 | zero (reserved)                                                  |
//! | 32..36 | CRC-32C of bytes 0..32: u32                                      |
//!
//! Entries are fixed-size, so one that fails its CRC is skipped without losing the entries
//! after it, and a partial last entry (a torn write) is ignored. Reading never fails on
//! content, only on I/O.
//!
//! `@producer-ids` holds one 12-byte entry: the end of the block of producer id serials
//! reserved so far (i64; each id is its serial permuted under the data dir's key, see
//! `idempotence::ids`) and the CRC-32C of those 8 bytes (u32). It is replaced atomically (temporary file,
//! fsync, rename, fsync of the data dir) before any id of a new block is handed out.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

/// A topic's producer state file.
pub const PRODUCERS_FILE: &str = "producers.dat";
/// The data dir's file of reserved producer id serials (`@` keeps it from ever being a topic
/// name).
pub const IDS_FILE: &str = "@producer-ids";
/// Bytes per `producers.dat` entry.
pub const ENTRY_BYTES: usize = 36;
const IDS_BYTES: usize = 12;

/// One idempotent batch as `producers.dat` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_sequence: i32,
    pub records: u32,
    pub base_offset: u64,
    /// [`values_crc`] of the batch: what recovery checks the log's records against.
    pub values_crc: u32,
}

impl Entry {
    /// The entry's bytes, CRC included.
    pub fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut b = [0u8; ENTRY_BYTES];
        b[0..8].copy_from_slice(&self.producer_id.to_be_bytes());
        b[8..10].copy_from_slice(&self.epoch.to_be_bytes());
        b[10..14].copy_from_slice(&self.first_sequence.to_be_bytes());
        b[14..18].copy_from_slice(&self.records.to_be_bytes());
        b[18..26].copy_from_slice(&self.base_offset.to_be_bytes());
        b[26..30].copy_from_slice(&self.values_crc.to_be_bytes());
        let crc = crc32c::crc32c(&b[0..32]);
        b[32..36].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// The entry in `b`, or `None` when its CRC, reserved bytes or values do not hold.
    pub fn decode(b: &[u8; ENTRY_BYTES]) -> Option<Entry> {
        let crc = u32::from_be_bytes([b[32], b[33], b[34], b[35]]);
        if crc32c::crc32c(&b[0..32]) != crc || b[30..32] != [0, 0] {
            return None;
        }
        let at = |r: std::ops::Range<usize>| &b[r];
        let entry = Entry {
            producer_id: i64::from_be_bytes(at(0..8).try_into().ok()?),
            epoch: i16::from_be_bytes(at(8..10).try_into().ok()?),
            first_sequence: i32::from_be_bytes(at(10..14).try_into().ok()?),
            records: u32::from_be_bytes(at(14..18).try_into().ok()?),
            base_offset: u64::from_be_bytes(at(18..26).try_into().ok()?),
            values_crc: u32::from_be_bytes(at(26..30).try_into().ok()?),
        };
        (entry.producer_id >= 0 && entry.first_sequence >= 0 && entry.records > 0).then_some(entry)
    }
}

/// The CRC-32C of a batch's values, each as its length (u32, big-endian) then its bytes.
pub fn values_crc<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    values.into_iter().fold(0, |crc, v| {
        let crc = crc32c::crc32c_append(crc, &(v.len() as u32).to_be_bytes());
        crc32c::crc32c_append(crc, v)
    })
}

/// What reading a `producers.dat` found.
#[derive(Debug, Default)]
pub struct ReadBack {
    /// The entries that passed their check, in file order.
    pub entries: Vec<Entry>,
    /// Entries skipped because they failed their check.
    pub garbled: usize,
    /// Bytes of a partial last entry, ignored.
    pub partial_bytes: usize,
}

/// Reads `path` (a missing file is empty).
pub fn read(path: &Path) -> io::Result<ReadBack> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReadBack::default()),
        Err(e) => return Err(e),
    };
    let mut back = ReadBack { partial_bytes: bytes.len() % ENTRY_BYTES, ..ReadBack::default() };
    for chunk in bytes.chunks_exact(ENTRY_BYTES) {
        let chunk: &[u8; ENTRY_BYTES] = chunk.try_into().map_err(io::Error::other)?;
        match Entry::decode(chunk) {
            Some(e) => back.entries.push(e),
            None => back.garbled += 1,
        }
    }
    Ok(back)
}

/// Appends `entry` to `path` (created when missing), forcing it to disk when `sync`. Returns
/// the file's length before the entry, so that a caller can take the entry back.
///
/// The file is opened for each entry rather than held open: the descriptor budget
/// (`super::limits`) counts two descriptors per topic, and most topics have no idempotent
/// producer.
pub fn append(path: &Path, entry: &Entry, sync: bool) -> io::Result<u64> {
    let mut f = File::options().create(true).append(true).open(path)?;
    let before = f.metadata()?.len();
    // A partial entry left by a crash would misalign every later one: start at a boundary.
    let aligned = before - before % ENTRY_BYTES as u64;
    if aligned != before {
        f.set_len(aligned)?;
    }
    f.write_all(&entry.encode())?;
    if sync {
        f.sync_data()?;
    }
    Ok(aligned)
}

/// Cuts `path` back to `len` bytes (taking back an entry whose batch was not written).
pub fn truncate(path: &Path, len: u64, sync: bool) -> io::Result<()> {
    let f = File::options().write(true).open(path)?;
    f.set_len(len)?;
    if sync {
        f.sync_data()?;
    }
    Ok(())
}

/// Forces `path` to disk (the interval policy's deferred sync).
pub fn sync(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_data()
}

/// Replaces the file at `path` with `bytes` atomically: a temporary file beside it, fsynced,
/// renamed over it, and the directory fsynced, so a crash leaves the old file or the new one.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut out = File::create(&temp)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    fs::rename(&temp, path)?;
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Rewrites `path` to hold exactly `entries` (compaction).
pub fn rewrite(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
    replace(path, &bytes)
}

/// The end of the reserved block of producer id serials in `data_dir`: `Ok(None)` when there is no file,
/// `Err` with a reason when it cannot be read or fails its check.
pub fn read_reserved_ids(data_dir: &Path) -> Result<Option<i64>, String> {
    let payload = read_checked::<{ IDS_BYTES - 4 }>(&data_dir.join(IDS_FILE))?;
    Ok(payload.map(i64::from_be_bytes))
}

/// Records durably that the ids of serials below `end` may have been handed out.
pub fn write_reserved_ids(data_dir: &Path, end: i64) -> io::Result<()> {
    write_checked(&data_dir.join(IDS_FILE), &end.to_be_bytes())
}

/// The `N` bytes of a small file that holds them followed by their CRC-32C (u32):
/// `Ok(None)` when there is no file, `Err` with a reason when it cannot be read, is not
/// `N + 4` bytes long or fails its CRC.
pub fn read_checked<const N: usize>(path: &Path) -> Result<Option<[u8; N]>, String> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if bytes.len() != N + 4 {
        return Err(format!("{} is {} bytes, not {}", path.display(), bytes.len(), N + 4));
    }
    let (payload, crc) = bytes.split_at(N);
    if crc32c::crc32c(payload).to_be_bytes() != crc {
        return Err(format!("{} fails its CRC", path.display()));
    }
    Ok(payload.try_into().ok())
}

/// Replaces the file at `path` atomically (see [`replace`]) with `payload` and its CRC-32C.
pub fn write_checked(path: &Path, payload: &[u8]) -> io::Result<()> {
    let mut b = payload.to_vec();
    b.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    replace(path, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> Entry {
        Entry { producer_id: n, epoch: 1, first_sequence: 7, records: 3, base_offset: 40, values_crc: 9 }
    }

    #[test]
    fn entries_round_trip_and_a_flipped_bit_is_caught() {
        let e = entry(5);
        assert_eq!(Entry::decode(&e.encode()), Some(e));
        for bit in 0..ENTRY_BYTES * 8 {
            let mut b = e.encode();
            b[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Entry::decode(&b), None, "bit {bit}");
        }
    }

    #[test]
    fn a_garbled_entry_and_a_torn_tail_lose_only_themselves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(PRODUCERS_FILE);
        for n in 0..3 {
            append(&path, &entry(n), false).expect("append");
        }
        let mut bytes = fs::read(&path).expect("read");
        bytes[ENTRY_BYTES + 3] ^= 0xff;
        bytes.extend_from_slice(&[1, 2, 3]);
        fs::write(&path, &bytes).expect("write");
        let back = read(&path).expect("read back");
        assert_eq!(back.entries, vec![entry(0), entry(2)]);
        assert_eq!((back.garbled, back.partial_bytes), (1, 3));
        // The next append starts at an entry boundary, so it reads back.
        assert_eq!(append(&path, &entry(3), false).expect("append"), 3 * ENTRY_BYTES as u64);
        assert_eq!(read(&path).expect("read").entries, vec![entry(0), entry(2), entry(3)]);
    }

    #[test]
    fn the_reserved_id_block_round_trips_and_a_bad_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_reserved_ids(dir.path()), Ok(None));
        write_reserved_ids(dir.path(), 123_456).expect("write");
        assert_eq!(read_reserved_ids(dir.path()), Ok(Some(123_456)));
        fs::write(dir.path().join(IDS_FILE), b"garbage").expect("write");
        assert!(read_reserved_ids(dir.path()).is_err());
    }

    #[test]
    fn values_crc_depends_on_how_the_bytes_are_split() {
        assert_ne!(values_crc([b"ab".as_slice()]), values_crc([b"a".as_slice(), b"b"]));
    }
}
