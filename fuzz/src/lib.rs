//! The checks behind synclog's fuzz targets, kept out of `fuzz_targets/` so that the targets stay
//! one line each and the seed writer (`examples/write_seeds.rs`) builds its inputs with the same
//! code that reads them.
//!
//! - [`request`]: `decode_request`, arbitrary bytes through the sans-IO request and response
//!   decoders. A decoder must never panic, must answer every frame it accepts with exactly the
//!   bytes it would encode (the codec is canonical), and must tell the broker how far to skip
//!   after every frame it rejects.
//! - [`recovery`]: `recover_log`, arbitrary bytes as a topic's `log.dat` and `index.dat`, then
//!   `verify`, `Log::open` (recovery), reads, an append and reopens. What must hold is written
//!   next to each assertion, with the sentence of `docs/format.md` it comes from.
//! - [`image`]: how a fuzz input becomes those two files, either raw (the bytes are the files)
//!   or as a small program of valid records, damage and index entries, so that the fuzzer gets
//!   past the CRC without having to guess one.
//!
//! Nothing here is `unsafe`; the targets' `fuzz_target!` macro is libfuzzer-sys's own.

#![forbid(unsafe_code)]

pub mod image;
pub mod recovery;
pub mod request;
