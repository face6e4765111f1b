//! Fuzz AMF0: `decode_value` and `decode_all` over arbitrary bytes; whatever
//! decodes is re-encoded and decoded again and must be equal (NaN-tolerant:
//! NaN equals NaN with the same bits). Values whose short strings grew past
//! 65535 bytes through lossy UTF-8 decoding are not round-tripped.
//!
//! The body lives in `../checks.rs`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::amf0::check(data));
