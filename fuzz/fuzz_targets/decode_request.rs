//! Arbitrary bytes through the request and response decoders; the checks are in
//! `synclog_fuzz::request`.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| synclog_fuzz::request::check_decode_request(data));
