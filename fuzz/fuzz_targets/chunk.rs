//! Fuzz the dechunker with small limits. The first byte chooses the piece
//! sizes; the rest is the chunk stream. The messages (and the error, if any)
//! must be the same whether the stream arrives whole or in pieces.
//!
//! The body lives in `../checks.rs`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::chunk::check(data));
