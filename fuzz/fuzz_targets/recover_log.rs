//! Arbitrary `log.dat` and `index.dat` through verify, open (recovery), reads, an append and
//! reopens; the input format is in `synclog_fuzz::image`, the checks in `synclog_fuzz::recovery`.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| synclog_fuzz::recovery::check_recover_log(data));
