//! Fuzz the handshake: arbitrary bytes, split at arbitrary points, into a
//! `ServerHandshake` and (as a server answer) into a started
//! `ClientHandshake`. Checks the contract, not just "no panic": on `Done`
//! exactly 3073 bytes were consumed and the echo is right; a bad first byte is
//! `BadVersion` of that byte.
//!
//! The body lives in `../checks.rs`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::handshake::check(data));
