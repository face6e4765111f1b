//! Fuzz the Enhanced RTMP v2 track parser (multitrack, ModEx) and the
//! per-track header cache of the stream table: see `checks::tracks`.
//!
//! The body lives in `../checks.rs`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::tracks::check(data));
