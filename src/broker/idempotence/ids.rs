//! Producer ids nobody can guess from another: InitProducerId hands out serials one after
//! another (reserved on disk in blocks, `@producer-ids`), each turned into its id by a keyed
//! permutation of the non-negative i64s. The key is 128 bits from the OS's random source,
//! kept in the data dir's `@producer-key` (docs/format.md), so ids of one data dir never
//! repeat across restarts, and an id decides its serial: the broker tells an id it handed out
//! from a forged one without remembering each id. A client that knows its own id learns
//! nothing of the ids handed out before or after it: a forged id is one of 2^63 values.
//!
//! The permutation is an eight-round Feistel network over 64 bits, each round a keyed
//! SipHash-2-4 of the round number and the right half; a result with the top bit set is
//! permuted again (cycle walking) until it is a non-negative i64, which takes two rounds of
//! the network on average.

use crate::broker::producer_file::{read_checked, write_checked};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;

/// The data dir's file of the producer id key (`@` keeps it from ever being a topic name).
pub const KEY_FILE: &str = "@producer-key";
const KEY_FILE_BYTES: usize = 20;
const ROUNDS: u64 = 8;

/// The keyed permutation between serials and producer ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdKey([u64; 2]);

impl IdKey {
    /// A key from the OS's random source (`getrandom`); should that fail, from std's
    /// `RandomState`, whose keys come from the same source.
    pub fn random() -> IdKey {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_ok() {
            return IdKey::from_bytes(&bytes);
        }
        let state = std::collections::hash_map::RandomState::new();
        IdKey([state.hash_one(1u8), state.hash_one(2u8)])
    }

    fn from_bytes(b: &[u8; 16]) -> IdKey {
        let half = |i: usize| {
            u64::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]])
        };
        IdKey([half(0), half(8)])
    }

    fn round(&self, round: u64, half: u32) -> u32 {
        // SipHash-2-4, keyed: std's `SipHasher` is deprecated in favour of the unkeyed
        // `DefaultHasher`, whose algorithm may change; this one is specified and stays.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(self.0[0], self.0[1]);
        h.write_u64(round << 32 | u64::from(half));
        h.finish() as u32
    }

    fn encrypt(&self, x: u64) -> u64 {
        let (mut left, mut right) = ((x >> 32) as u32, x as u32);
        for r in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(r, right));
        }
        u64::from(left) << 32 | u64::from(right)
    }

    fn decrypt(&self, y: u64) -> u64 {
        let (mut left, mut right) = ((y >> 32) as u32, y as u32);
        for r in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(r, left), left);
        }
        u64::from(left) << 32 | u64::from(right)
    }

    /// The producer id of `serial` (≥ 0): a non-negative i64, distinct for distinct serials.
    pub fn id_of(&self, serial: i64) -> i64 {
        let mut y = self.encrypt(serial as u64);
        while y > i64::MAX as u64 {
            y = self.encrypt(y);
        }
        y as i64
    }

    /// The serial whose id is `id` (≥ 0); `None` for a negative id.
    pub fn serial_of(&self, id: i64) -> Option<i64> {
        let mut x = self.decrypt(u64::try_from(id).ok()?);
        while x > i64::MAX as u64 {
            x = self.decrypt(x);
        }
        Some(x as i64)
    }

    /// Reads the key in `data_dir`: `Ok(None)` when there is no file (a new data dir, or one
    /// an older broker wrote), `Err` with a reason when it cannot be read or fails its check.
    pub fn read(data_dir: &Path) -> Result<Option<IdKey>, String> {
        Ok(read_checked::<{ KEY_FILE_BYTES - 4 }>(&data_dir.join(KEY_FILE))?
            .map(|key| IdKey::from_bytes(&key)))
    }

    /// Records the key in `data_dir` durably (atomically replaced: temporary file, fsync,
    /// rename, fsync of the data dir).
    pub fn write(&self, data_dir: &Path) -> io::Result<()> {
        let mut key = [0u8; KEY_FILE_BYTES - 4];
        key[0..8].copy_from_slice(&self.0[0].to_be_bytes());
        key[8..16].copy_from_slice(&self.0[1].to_be_bytes());
        write_checked(&data_dir.join(KEY_FILE), &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_non_negative_and_map_back_to_their_serials() {
        let key = IdKey::random();
        let first = 1_765_000_000_000_000i64;
        let mut ids = std::collections::HashSet::new();
        for serial in (0..2000).chain(first..first + 2000).chain([i64::MAX]) {
            let id = key.id_of(serial);
            assert!(id >= 0);
            assert_eq!(key.serial_of(id), Some(serial));
            assert!(ids.insert(id), "id {id} twice");
        }
        assert_eq!(key.serial_of(-1), None);
    }

    #[test]
    fn neighbouring_serials_give_ids_far_apart_and_other_keys_other_ids() {
        // Fixed keys, so the test is the same every run.
        let (a, b) = (IdKey::from_bytes(&[7; 16]), IdKey::from_bytes(&[9; 16]));
        for serial in 0..100 {
            let (id, next) = (a.id_of(serial), a.id_of(serial + 1));
            // 2^40 apart or more (a random key would miss that for about 1 pair in 4 million).
            assert!(id.abs_diff(next) > 1 << 40, "{id} then {next}");
            assert_ne!(id, b.id_of(serial));
        }
    }

    #[test]
    fn the_key_round_trips_and_a_bad_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(IdKey::read(dir.path()), Ok(None));
        let key = IdKey::random();
        key.write(dir.path()).expect("write");
        assert_eq!(IdKey::read(dir.path()), Ok(Some(key)));
        std::fs::write(dir.path().join(KEY_FILE), [7u8; KEY_FILE_BYTES]).expect("write");
        assert!(IdKey::read(dir.path()).is_err());
    }
}
